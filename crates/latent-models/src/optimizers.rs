//! [`Optimizers`]: the named optimisers of a run, one per group of parameters, each chosen by an
//! [`OptimizerSpec`] (Adam, SGD or RMSprop, with its learning rate and a schedule over epochs).
//!
//! A model with one network trains everything with one optimiser, named `"model"`. A GAN has
//! two networks with two optimisers (`"generator"`, `"discriminator"`), each updating only the
//! parameters under its prefix and each with its own hyper-parameters. The model says what it
//! needs with [`crate::Model::optimizer_groups`] (starting from the run's spec); the trainer
//! builds the [`Optimizers`], sets each group's rate for the epoch from its schedule, hands them
//! to [`crate::Model::train_step`], and saves and restores every one of them in the training
//! state (so resuming stays exact).
//!
//! Steps go through [`Optimizers::step`], which visits the model's parameters and updates those
//! of the group that have a gradient, by name. It is generic over the module type so that a
//! model's default `train_step` can pass `self` without a cast.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use latent_nn::optim::{
    Adam, AdamConfig, LrSchedule, NamedGrads, Optimizer, OptimizerState, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use latent_nn::{Ctx, Module};
use latent_tensor::Gradients;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The name of the optimiser of a single-network model.
pub const SINGLE: &str = latent_nn::train_state::SINGLE_OPTIMIZER;

/// Which update rule a group trains with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam (Kingma & Ba), PyTorch's defaults: betas (0.9, 0.999), eps 1e-8.
    #[default]
    Adam,
    /// Stochastic gradient descent, with optional momentum.
    Sgd,
    /// RMSprop, PyTorch's defaults: alpha 0.99, eps 1e-8, optional momentum.
    Rmsprop,
}

impl OptimizerKind {
    /// Every kind, for help texts.
    pub const ALL: &'static [OptimizerKind] = &[OptimizerKind::Adam, OptimizerKind::Sgd, OptimizerKind::Rmsprop];

    /// The name on the command line and in configs.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Rmsprop => "rmsprop",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        OptimizerKind::ALL.iter().copied().find(|k| k.name() == key).ok_or_else(|| {
            ModelError::config("--optimizer", format!("unknown optimizer `{s}`; choose adam, sgd or rmsprop"))
        })
    }
}

/// How one group of parameters is optimised: the rule, its base learning rate and
/// hyper-parameters, and how the rate changes over epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSpec {
    /// The update rule.
    pub kind: OptimizerKind,
    /// The base learning rate (the schedule scales it per epoch).
    pub learning_rate: f64,
    /// Adam's betas.
    pub betas: (f64, f64),
    /// SGD's and RMSprop's momentum.
    pub momentum: f64,
    /// The learning rate as a function of the epoch.
    pub schedule: LrSchedule,
}

impl OptimizerSpec {
    /// Adam with PyTorch's defaults and a constant rate.
    pub fn adam(learning_rate: f64) -> Self {
        OptimizerSpec {
            kind: OptimizerKind::Adam,
            learning_rate,
            betas: (0.9, 0.999),
            momentum: 0.0,
            schedule: LrSchedule::Constant,
        }
    }

    /// The same spec with Adam's betas set (other rules ignore them).
    #[must_use]
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = (beta1, beta2);
        self
    }

    /// The learning rate at `epoch` (counted from 1).
    pub fn learning_rate_at(&self, epoch: u64) -> f64 {
        self.schedule.lr(self.learning_rate, epoch.saturating_sub(1))
    }

    /// A fresh optimiser of this spec.
    ///
    /// # Errors
    /// If a hyper-parameter is out of range (the message names it).
    pub fn build(&self) -> Result<Box<dyn Optimizer>> {
        let lr = self.learning_rate;
        Ok(match self.kind {
            OptimizerKind::Adam => Box::new(Adam::new(AdamConfig::adam(lr).betas(self.betas.0, self.betas.1))?),
            OptimizerKind::Sgd => Box::new(Sgd::new(SgdConfig::new(lr).momentum(self.momentum))?),
            OptimizerKind::Rmsprop => Box::new(RmsProp::new(RmsPropConfig::new(lr).momentum(self.momentum))?),
        })
    }
}

/// One optimiser's share of the model: its name (in the training state), the parameter-name
/// prefix it owns (empty: every parameter) and its spec.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerGroup {
    /// The optimiser's name.
    pub name: String,
    /// The prefix of the parameters it updates (`""`: all).
    pub prefix: String,
    /// How it optimises them.
    pub spec: OptimizerSpec,
}

impl OptimizerGroup {
    /// The single optimiser of a one-network model, over every parameter.
    pub fn single(spec: OptimizerSpec) -> Self {
        OptimizerGroup { name: SINGLE.to_string(), prefix: String::new(), spec }
    }

    /// An optimiser named `name` over the parameters under `prefix`.
    pub fn prefixed(name: &str, prefix: &str, spec: OptimizerSpec) -> Self {
        OptimizerGroup { name: name.to_string(), prefix: prefix.to_string(), spec }
    }

    /// Whether parameter `param` belongs to this group (`prefix` itself or `prefix.*`).
    pub fn contains(&self, param: &str) -> bool {
        self.prefix.is_empty()
            || param.strip_prefix(self.prefix.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    }
}

/// A run's optimisers, by name.
pub struct Optimizers {
    groups: Vec<(OptimizerGroup, Box<dyn Optimizer>)>,
}

impl Optimizers {
    /// Fresh optimisers for `groups`.
    ///
    /// # Errors
    /// If there are none, a name is empty, repeated or contains `/`, or a hyper-parameter is
    /// out of range.
    pub fn new(groups: Vec<OptimizerGroup>) -> Result<Self> {
        if groups.is_empty() {
            return Err(ModelError::config("optimizers", "the model asked for no optimiser"));
        }
        let mut out: Vec<(OptimizerGroup, Box<dyn Optimizer>)> = Vec::with_capacity(groups.len());
        for g in groups {
            if g.name.is_empty() || g.name.contains('/') || out.iter().any(|(o, _)| o.name == g.name) {
                return Err(ModelError::config(
                    "optimizers",
                    format!("optimizer name `{}` must be non-empty, unique and free of `/`", g.name),
                ));
            }
            let opt = g.spec.build()?;
            out.push((g, opt));
        }
        Ok(Optimizers { groups: out })
    }

    /// The groups, in order.
    pub fn groups(&self) -> impl Iterator<Item = &OptimizerGroup> {
        self.groups.iter().map(|(g, _)| g)
    }

    /// The optimiser named `name`.
    ///
    /// # Errors
    /// If there is none (the message lists the names).
    pub fn get_mut(&mut self, name: &str) -> Result<&mut dyn Optimizer> {
        let names = self.names();
        match self.groups.iter_mut().find(|(g, _)| g.name == name) {
            Some((_, o)) => Ok(o.as_mut()),
            None => {
                Err(ModelError::config("optimizers", format!("no optimizer named `{name}` (the run has: {names})")))
            }
        }
    }

    fn names(&self) -> String {
        self.groups.iter().map(|(g, _)| g.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The first optimiser's learning rate (what the metrics report).
    pub fn learning_rate(&self) -> f64 {
        self.groups[0].1.learning_rate()
    }

    /// Set every optimiser's rate for `epoch` (counted from 1) from its group's schedule.
    pub fn start_epoch(&mut self, epoch: u64) {
        for (g, o) in &mut self.groups {
            let lr = g.spec.learning_rate_at(epoch);
            if lr != o.learning_rate() {
                o.set_learning_rate(lr);
            }
        }
    }

    /// One step of the optimiser `name` over its group's parameters of `model` that have a
    /// gradient in `grads`.
    ///
    /// # Errors
    /// If there is no such optimiser or a gradient does not fit its parameter.
    pub fn step<M: Module + ?Sized>(&mut self, name: &str, model: &mut M, grads: &NamedGrads) -> Result<()> {
        let names = self.names();
        let (group, opt) = self.groups.iter_mut().find(|(g, _)| g.name == name).ok_or_else(|| {
            ModelError::config("optimizers", format!("no optimizer named `{name}` (the run has: {names})"))
        })?;
        let mut result = Ok(());
        model.visit_params_mut("", &mut |param, p| {
            if result.is_ok()
                && group.contains(param)
                && let Some(g) = grads.get(param)
            {
                result = opt.update(param, p, g.view());
            }
        });
        Ok(result?)
    }

    /// Every optimiser's state, by name (for the training state).
    pub fn states(&self) -> BTreeMap<String, OptimizerState> {
        self.groups.iter().map(|(g, o)| (g.name.clone(), o.state())).collect()
    }

    /// Restore the states saved by [`Optimizers::states`]; every optimiser must have one, none
    /// may be left over, and each may only hold state for its own group's parameters. Nothing
    /// changes unless all of them fit.
    ///
    /// # Errors
    /// If a state is missing, extra, of another kind, or does not fit the model.
    pub fn load_states(&mut self, mut states: BTreeMap<String, OptimizerState>, model: &dyn Module) -> Result<()> {
        let mut adopted = Vec::with_capacity(self.groups.len());
        for (group, _) in &self.groups {
            let state = states.remove(&group.name).ok_or_else(|| {
                ModelError::config(
                    "training state",
                    format!("has no state for the optimizer `{}` this model trains with", group.name),
                )
            })?;
            if let Some(outside) = state.steps.keys().find(|p| !group.contains(p)) {
                return Err(ModelError::config(
                    "training state",
                    format!("the optimizer `{}` holds state for `{outside}`, outside its parameters", group.name),
                ));
            }
            let mut fresh = group.spec.build()?;
            fresh.load_state(state, model)?;
            adopted.push(fresh);
        }
        if let Some(extra) = states.keys().next() {
            return Err(ModelError::config(
                "training state",
                format!("holds an optimizer `{extra}` that this model does not train with (it has: {})", self.names()),
            ));
        }
        for ((_, opt), fresh) in self.groups.iter_mut().zip(adopted) {
            *opt = fresh;
        }
        Ok(())
    }
}

/// What a training step needs besides the batch and the optimisers: the forward context
/// (training mode, the run's generator), the global step (counted from 0) and the clipping
/// norm.
pub struct StepContext<'a> {
    /// The training context.
    pub ctx: &'a mut Ctx,
    /// Steps taken before this one.
    pub step: u64,
    /// Clip the global gradient norm of each optimiser's gradients to this, if set.
    pub clip_grad_norm: Option<f32>,
}

/// Move the gradients of every parameter of `model` out of `grads`, by name.
pub fn take_grads<M: Module + ?Sized>(model: &M, grads: &mut Gradients) -> NamedGrads {
    take_grads_under(model, "", grads)
}

/// The parameters of `model` under `prefix` (cheap handles sharing the values), to ask
/// [`Tensor::backward_for`](latent_tensor::Tensor::backward_for) for their gradients only.
pub fn params_under<M: Module + ?Sized>(model: &M, prefix: &str) -> Vec<latent_tensor::Tensor> {
    let group = OptimizerGroup::prefixed("", prefix, OptimizerSpec::adam(0.0));
    let mut out = Vec::new();
    model.visit_params("", &mut |name, p| {
        if group.contains(name) {
            out.push(p.clone());
        }
    });
    out
}

/// Move the gradients of `model`'s parameters under `prefix` out of `grads`, by name.
pub fn take_grads_under<M: Module + ?Sized>(model: &M, prefix: &str, grads: &mut Gradients) -> NamedGrads {
    let group = OptimizerGroup::prefixed("", prefix, OptimizerSpec::adam(0.0));
    let mut out = NamedGrads::default();
    model.visit_params("", &mut |name, p| {
        if group.contains(name)
            && let Some(g) = grads.remove(p)
        {
            out.insert(name, g);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_nn::Layer;
    use latent_nn::layers::{Linear, Sequential};
    use latent_tensor::{Tensor, TensorRng};

    /// Two linear layers named `a` and `ab` (a prefix of each other's names, as text).
    #[derive(Module)]
    struct Pair {
        a: Sequential,
        ab: Sequential,
    }

    impl Pair {
        fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> latent_nn::Result<Tensor> {
            let h = self.a.forward(x, ctx)?;
            self.ab.forward(&h, ctx)
        }
    }

    fn pair() -> Pair {
        let mut rng = TensorRng::seed_from_u64(3);
        Pair {
            a: Sequential::new().with(Linear::new(3, 3, &mut rng).unwrap()),
            ab: Sequential::new().with(Linear::new(3, 1, &mut rng).unwrap()),
        }
    }

    #[test]
    fn each_optimizer_updates_only_its_group_and_states_round_trip() {
        let mut model = pair();
        let groups = vec![
            OptimizerGroup::prefixed("first", "a", OptimizerSpec::adam(0.1)),
            OptimizerGroup::prefixed("second", "ab", OptimizerSpec::adam(0.1).with_betas(0.5, 0.999)),
        ];
        assert!(groups[0].contains("a.0.weight") && !groups[0].contains("ab.0.weight"));
        let mut opts = Optimizers::new(groups.clone()).unwrap();
        let before: Vec<Vec<f32>> = model.named_parameters().iter().map(|(_, p)| p.to_vec()).collect();
        let loss = model.forward(&Tensor::ones(&[2, 3]), &mut Ctx::eval()).unwrap().sum_all();
        let mut grads = loss.backward().unwrap();
        drop(loss);
        let named = take_grads(&model, &mut grads);
        assert_eq!(named.len(), 4);
        let mut again = model.forward(&Tensor::ones(&[2, 3]), &mut Ctx::eval()).unwrap().sum_all().backward().unwrap();
        let only_a = take_grads_under(&model, "a", &mut again);
        assert_eq!(only_a.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["a.0.bias", "a.0.weight"]);
        opts.step("first", &mut model, &named).unwrap();
        let after: Vec<Vec<f32>> = model.named_parameters().iter().map(|(_, p)| p.to_vec()).collect();
        assert_ne!(after[0], before[0]);
        assert_ne!(after[1], before[1]);
        assert_eq!(after[2..], before[2..], "the other group must not move");
        assert!(opts.step("third", &mut model, &named).unwrap_err().to_string().contains("first, second"));

        let states = opts.states();
        assert_eq!(states["first"].steps.len(), 2);
        assert!(states["second"].steps.is_empty());
        let mut back = Optimizers::new(groups.clone()).unwrap();
        back.load_states(states.clone(), &model).unwrap();
        assert_eq!(back.states(), states);
        // A state for another optimiser set is refused, and nothing changes.
        let mut wrong = states.clone();
        let first = wrong.remove("first").unwrap();
        wrong.insert("second".into(), first);
        wrong.insert("first".into(), states["second"].clone());
        let mut fresh = Optimizers::new(groups).unwrap();
        let err = fresh.load_states(wrong, &model).unwrap_err().to_string();
        assert!(err.contains("`second` holds state for `a.0.bias`"), "{err}");
        assert!(fresh.states()["first"].steps.is_empty());
        let err = fresh.load_states(BTreeMap::new(), &model).unwrap_err().to_string();
        assert!(err.contains("no state for the optimizer `first`"), "{err}");
    }

    #[test]
    fn names_must_be_unique() {
        let g = OptimizerGroup::single(OptimizerSpec::adam(1e-3));
        assert!(Optimizers::new(vec![g.clone(), g]).is_err());
        assert!(Optimizers::new(Vec::new()).is_err());
    }
}
