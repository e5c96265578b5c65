//! [`Optimizers`]: the named optimisers of a run, one per group of parameters.
//!
//! A model with one network trains everything with one Adam, named `"model"`. A GAN has two
//! networks with two optimisers (`"generator"`, `"discriminator"`), each updating only the
//! parameters under its prefix and each with its own hyper-parameters. The model says what it
//! needs with [`crate::Model::optimizer_groups`]; the trainer builds the [`Optimizers`], hands
//! them to [`crate::Model::train_step`], and saves and restores every one of them in the
//! training state (so resuming stays exact).
//!
//! Steps go through [`Optimizers::step`], which visits the model's parameters and updates those
//! of the group that have a gradient, by name. It is generic over the module type so that a
//! model's default `train_step` can pass `self` without a cast.

use std::collections::BTreeMap;

use latent_nn::optim::{Adam, AdamConfig, NamedGrads, Optimizer, OptimizerState};
use latent_nn::{Ctx, Module};
use latent_tensor::Gradients;

use crate::error::{ModelError, Result};

/// The name of the only optimiser of a single-network model.
pub const SINGLE: &str = latent_nn::train_state::SINGLE_OPTIMIZER;

/// One optimiser and the parameters it updates.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerGroup {
    /// The optimiser's name in the training state (`"model"`, `"generator"`, ...); no `/`.
    pub name: String,
    /// The parameters it updates: those whose name is `prefix` or starts with `prefix.`; the
    /// empty prefix means every parameter.
    pub prefix: String,
    /// Its Adam hyper-parameters.
    pub adam: AdamConfig,
}

impl OptimizerGroup {
    /// Every parameter, one Adam with `adam`, named [`SINGLE`].
    pub fn single(adam: AdamConfig) -> Self {
        OptimizerGroup { name: SINGLE.to_string(), prefix: String::new(), adam }
    }

    /// The parameters under `prefix`, in an optimiser named `name`.
    pub fn prefixed(name: &str, prefix: &str, adam: AdamConfig) -> Self {
        OptimizerGroup { name: name.to_string(), prefix: prefix.to_string(), adam }
    }

    /// Whether the parameter `param` belongs to the group.
    pub fn contains(&self, param: &str) -> bool {
        self.prefix.is_empty()
            || param.strip_prefix(self.prefix.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    }
}

/// The named optimisers of a run (see the module docs).
pub struct Optimizers {
    groups: Vec<(OptimizerGroup, Adam)>,
}

impl Optimizers {
    /// One Adam per group, with no state yet.
    ///
    /// # Errors
    /// If there are no groups, two share a name, a name contains `/`, or a hyper-parameter is
    /// out of range.
    pub fn new(groups: Vec<OptimizerGroup>) -> Result<Self> {
        if groups.is_empty() {
            return Err(ModelError::config("optimizers", "the model asked for no optimiser"));
        }
        let mut out: Vec<(OptimizerGroup, Adam)> = Vec::with_capacity(groups.len());
        for g in groups {
            if g.name.is_empty() || g.name.contains('/') || out.iter().any(|(o, _)| o.name == g.name) {
                return Err(ModelError::config(
                    "optimizers",
                    format!("optimizer name `{}` must be non-empty, unique and free of `/`", g.name),
                ));
            }
            let adam = Adam::new(g.adam)?;
            out.push((g, adam));
        }
        Ok(Optimizers { groups: out })
    }

    /// The groups, in the model's order.
    pub fn groups(&self) -> impl Iterator<Item = &OptimizerGroup> {
        self.groups.iter().map(|(g, _)| g)
    }

    /// The optimiser named `name`.
    ///
    /// # Errors
    /// If there is none.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Adam> {
        let names = self.names();
        self.groups.iter_mut().find(|(g, _)| g.name == name).map(|(_, o)| o).ok_or_else(|| {
            ModelError::config("optimizers", format!("no optimizer named `{name}` (the run has: {names})"))
        })
    }

    fn names(&self) -> String {
        self.groups.iter().map(|(g, _)| g.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The learning rate of the first optimiser (the one of a single-network model; a GAN's
    /// generator).
    pub fn learning_rate(&self) -> f64 {
        self.groups[0].1.learning_rate()
    }

    /// Update, with the optimiser `name`, every parameter of its group that has a gradient in
    /// `grads`; other parameters are left alone.
    ///
    /// # Errors
    /// If there is no optimiser `name` or a gradient does not fit its parameter.
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

    /// Every optimiser's state, by name.
    pub fn states(&self) -> BTreeMap<String, OptimizerState> {
        self.groups.iter().map(|(g, o)| (g.name.clone(), o.state())).collect()
    }

    /// Adopt saved states (one per optimiser, by name), each checked against `model` and its
    /// group. Nothing changes unless every state fits.
    ///
    /// # Errors
    /// If an optimiser has no saved state, a saved state has no optimiser, or a state does not
    /// fit the model or belongs to parameters outside its group.
    pub fn load_states(&mut self, mut states: BTreeMap<String, OptimizerState>, model: &dyn Module) -> Result<()> {
        let mut adopted = Vec::with_capacity(self.groups.len());
        for (group, opt) in &self.groups {
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
            let mut fresh = opt.clone();
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

/// What a training step gets besides the batch and the optimisers.
pub struct StepContext<'a> {
    /// The run's forward context: training mode, and the generator of every random draw
    /// (dropout, a VAE's `z`, a GAN's noise), saved with the run so resuming is exact.
    pub ctx: &'a mut Ctx,
    /// The number of steps taken before this one in the run (0 for the first).
    pub step: u64,
    /// Clip each optimiser's gradients to this global norm, if set.
    pub clip_grad_norm: Option<f32>,
}

/// Move the gradients of `model`'s parameters out of `grads`, by name (as
/// [`NamedGrads::take`], for any module type).
pub fn take_grads<M: Module + ?Sized>(model: &M, grads: &mut Gradients) -> NamedGrads {
    take_grads_under(model, "", grads)
}

/// Move the gradients of the parameters of `model` under `prefix` (a name that is `prefix` or
/// starts with `prefix.`; every parameter for the empty prefix) out of `grads`, by name.
pub fn take_grads_under<M: Module + ?Sized>(model: &M, prefix: &str, grads: &mut Gradients) -> NamedGrads {
    let group = OptimizerGroup::prefixed("", prefix, AdamConfig::adam(0.0));
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
            OptimizerGroup::prefixed("first", "a", AdamConfig::adam(0.1)),
            OptimizerGroup::prefixed("second", "ab", AdamConfig::adam(0.1).betas(0.5, 0.999)),
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
        let g = OptimizerGroup::single(AdamConfig::adam(1e-3));
        assert!(Optimizers::new(vec![g.clone(), g]).is_err());
        assert!(Optimizers::new(Vec::new()).is_err());
    }
}
