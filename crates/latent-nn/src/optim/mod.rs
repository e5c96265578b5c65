//! Optimisers ([`Sgd`], [`Adam`]/AdamW, [`RmsProp`]), gradient clipping by global norm
//! ([`clip`]) and learning-rate schedules ([`schedule`]).
//!
//! # How a step works
//! [`Optimizer::step`] visits the model's parameters by name ([`Optimizer::step_tensors`] takes
//! loose named tensors instead of a model) and, for each one with a
//! gradient in the [`GradSource`] (the [`Gradients`] from `backward`, or [`NamedGrads`] when
//! gradients are clipped first), calls [`Optimizer::update`], which edits the parameter in
//! place in one fused pass over parameter, gradient and moments (no temporaries). A parameter
//! without a gradient is skipped, as PyTorch skips `p.grad is None`. The arithmetic follows
//! PyTorch's single-tensor (CPU) implementations operation by operation, so a run matches
//! `torch.optim` on the same gradients to float rounding.
//!
//! Drop the graph (the loss) before stepping: a parameter still referenced by a live graph is
//! copied on write instead of updated in place.
//!
//! # State
//! Per-parameter state (step count, moments) is keyed by parameter name, and
//! [`Optimizer::state`] exports it as an [`OptimizerState`]: tensors named
//! `<param>.<slot>` (PyTorch's slot names: `exp_avg`, `exp_avg_sq`, `momentum_buffer`,
//! `square_avg`, `grad_avg`) plus the step counts and learning rate, which a
//! [`TrainingState`](crate::train_state::TrainingState) file stores to make resuming exact.

pub mod adam;
pub mod clip;
pub mod rmsprop;
pub mod schedule;
pub mod sgd;

use std::collections::{BTreeMap, HashMap};

use latent_tensor::elementwise::{self, worth_parallel};
use latent_tensor::{Gradients, Tensor};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, Zip};
use rayon::prelude::*;

pub use adam::{Adam, AdamConfig};
pub use clip::clip_grad_norm;
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::LrSchedule;
pub use sgd::{Sgd, SgdConfig};

use crate::error::{NnError, Result};
use crate::module::Module;

/// Where an optimiser finds the gradient of a parameter.
pub trait GradSource {
    /// The gradient of the parameter `param` named `name`, if there is one.
    fn grad(&self, name: &str, param: &Tensor) -> Option<ArrayViewD<'_, f32>>;
}

impl GradSource for Gradients {
    fn grad(&self, _name: &str, param: &Tensor) -> Option<ArrayViewD<'_, f32>> {
        self.get_array(param).map(|g| g.view())
    }
}

/// A model's gradients keyed by parameter name: what [`clip_grad_norm`] scales in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamedGrads {
    grads: BTreeMap<String, ArrayD<f32>>,
}

impl NamedGrads {
    /// Move the gradients of `model`'s parameters out of `grads` (no copies).
    pub fn take(model: &dyn Module, grads: &mut Gradients) -> Self {
        let mut out = BTreeMap::new();
        model.visit_params("", &mut |name, p| {
            if let Some(g) = grads.remove(p) {
                out.insert(name.to_string(), g);
            }
        });
        NamedGrads { grads: out }
    }

    /// The gradient of the parameter `name`.
    pub fn get(&self, name: &str) -> Option<&ArrayD<f32>> {
        self.grads.get(name)
    }

    /// Set the gradient of the parameter `name`.
    pub fn insert(&mut self, name: impl Into<String>, grad: ArrayD<f32>) {
        self.grads.insert(name.into(), grad);
    }

    /// `(name, gradient)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArrayD<f32>)> {
        self.grads.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The gradients, mutably, in name order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut ArrayD<f32>> {
        self.grads.values_mut()
    }

    /// How many parameters have a gradient.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether no parameter has a gradient.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }
}

impl GradSource for NamedGrads {
    fn grad(&self, name: &str, _param: &Tensor) -> Option<ArrayViewD<'_, f32>> {
        self.grads.get(name).map(|g| g.view())
    }
}

/// An optimiser's complete state, for training-state files.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// Which optimiser wrote it (`"sgd"`, `"adam"`, `"adamw"`, `"rmsprop"`).
    pub kind: String,
    /// The learning rate at the time of saving (a schedule may have changed it).
    pub learning_rate: f64,
    /// The number of updates applied to each parameter.
    pub steps: BTreeMap<String, u64>,
    /// The per-parameter slots, named `<param>.<slot>`.
    pub tensors: BTreeMap<String, ArrayD<f32>>,
}

/// An optimiser: updates parameters from their gradients and keeps per-parameter state by name.
pub trait Optimizer: Send {
    /// The optimiser's kind, recorded in its state (`"adam"`, ...).
    fn kind(&self) -> &'static str;

    /// The current learning rate. Hyper-parameters are `f64`, as Python floats are in
    /// PyTorch; the arithmetic on tensors is `f32`.
    fn learning_rate(&self) -> f64;

    /// Set the learning rate (schedules call this once per epoch).
    fn set_learning_rate(&mut self, lr: f64);

    /// Update one parameter, named `name`, from its gradient.
    ///
    /// # Errors
    /// If the gradient's shape differs from the parameter's.
    fn update(&mut self, name: &str, param: &mut Tensor, grad: ArrayViewD<'_, f32>) -> Result<()>;

    /// The complete state (learning rate, step counts, slots).
    fn state(&self) -> OptimizerState;

    /// Replace the state with `state`, which [`Optimizer::load_state`] has checked against the
    /// model.
    ///
    /// # Errors
    /// If the state belongs to another kind of optimiser or its slots are incomplete.
    fn set_state(&mut self, state: OptimizerState) -> Result<()>;

    /// Update every parameter of `model` that has a gradient in `grads`.
    ///
    /// # Errors
    /// If a gradient does not fit its parameter; parameters visited before it are updated.
    fn step(&mut self, model: &mut dyn Module, grads: &dyn GradSource) -> Result<()> {
        let mut result = Ok(());
        model.visit_params_mut("", &mut |name, p| {
            if result.is_ok()
                && let Some(g) = grads.grad(name, p)
            {
                result = self.update(name, p, g);
            }
        });
        result
    }

    /// Update loose parameters, each named (the name keys its state, as a module's parameter
    /// names do), from their gradients in `grads`; a parameter without a gradient is skipped.
    ///
    /// For code that holds its parameters in variables rather than in a [`Module`]: fit
    /// `y = w·x + b` with Adam.
    /// ```
    /// use latent_nn::optim::{Adam, AdamConfig, Optimizer};
    /// use latent_tensor::Tensor;
    ///
    /// let x = Tensor::from_vec(&[8], (0..8).map(|i| i as f32 / 4.0).collect())?;
    /// let y = 3.0 * &x + 0.5; // the line to find
    /// let (mut w, mut b) = (Tensor::scalar(0.0).to_leaf(), Tensor::scalar(0.0).to_leaf());
    /// let mut adam = Adam::new(AdamConfig::adam(0.1))?;
    /// for _ in 0..300 {
    ///     // The loss (and its graph) is gone at the end of this line; the gradients stay.
    ///     let grads = (&w * &x + &b - &y).square().mean_all()?.backward()?;
    ///     adam.step_tensors(&mut [("w", &mut w), ("b", &mut b)], &grads)?;
    /// }
    /// assert!((w.item()? - 3.0).abs() < 1e-2 && (b.item()? - 0.5).abs() < 1e-2, "{w} {b}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// If a gradient does not fit its parameter; parameters before it are updated.
    fn step_tensors(&mut self, params: &mut [(&str, &mut Tensor)], grads: &dyn GradSource) -> Result<()> {
        for (name, param) in params.iter_mut() {
            if let Some(g) = grads.grad(name, param) {
                self.update(name, param, g)?;
            }
        }
        Ok(())
    }

    /// Check `state` against `model` (every slot belongs to a parameter of the model, with its
    /// shape) and then adopt it. Nothing changes if the check fails.
    ///
    /// # Errors
    /// If the state names a parameter the model does not have, a slot's shape differs from its
    /// parameter's, or [`Optimizer::set_state`] refuses it.
    fn load_state(&mut self, state: OptimizerState, model: &dyn Module) -> Result<()> {
        let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
        model.visit_params("", &mut |name, p| {
            shapes.insert(name.to_string(), p.shape().to_vec());
        });
        for name in state.steps.keys() {
            if !shapes.contains_key(name) {
                return Err(NnError::optimizer_state(format!(
                    "state for `{name}`, which is not a parameter of the model"
                )));
            }
        }
        for (key, array) in &state.tensors {
            let (param, _) = split_slot_key(key)?;
            let expected = shapes.get(param).ok_or_else(|| {
                NnError::optimizer_state(format!(
                    "slot `{key}` belongs to `{param}`, which is not a parameter of the model"
                ))
            })?;
            if array.shape() != expected.as_slice() {
                return Err(NnError::optimizer_state(format!(
                    "slot `{key}` has shape {:?}, the parameter has shape {expected:?}",
                    array.shape()
                )));
            }
        }
        self.set_state(state)
    }
}

/// `("enc.0.weight", "exp_avg")` from `"enc.0.weight.exp_avg"`.
fn split_slot_key(key: &str) -> Result<(&str, &str)> {
    key.rsplit_once('.').ok_or_else(|| NnError::optimizer_state(format!("slot name `{key}` is not `<param>.<slot>`")))
}

/// The per-parameter state shared by every optimiser here: an update count and named slots of
/// the parameter's shape (created as zeros on the first update).
#[derive(Clone, Debug, Default)]
pub(crate) struct SlotStore {
    slot_names: &'static [&'static str],
    params: BTreeMap<String, ParamSlots>,
}

#[derive(Clone, Debug)]
pub(crate) struct ParamSlots {
    /// Updates applied so far (after this update, during `update`).
    pub(crate) step: u64,
    /// One array per slot name, in the store's order.
    pub(crate) slots: Vec<ArrayD<f32>>,
}

impl SlotStore {
    pub(crate) fn new(slot_names: &'static [&'static str]) -> Self {
        SlotStore { slot_names, params: BTreeMap::new() }
    }

    /// The slots of `name`, created as zeros of `shape` if new, with the step count advanced.
    pub(crate) fn advance(&mut self, name: &str, shape: &[usize]) -> &mut ParamSlots {
        let n = self.slot_names.len();
        let entry = self
            .params
            .entry(name.to_string())
            .or_insert_with(|| ParamSlots { step: 0, slots: (0..n).map(|_| ArrayD::zeros(IxDyn(shape))).collect() });
        entry.step += 1;
        entry
    }

    pub(crate) fn export(&self, kind: &str, learning_rate: f64) -> OptimizerState {
        let mut steps = BTreeMap::new();
        let mut tensors = BTreeMap::new();
        for (name, p) in &self.params {
            steps.insert(name.clone(), p.step);
            for (slot, array) in self.slot_names.iter().zip(&p.slots) {
                tensors.insert(format!("{name}.{slot}"), array.clone());
            }
        }
        OptimizerState { kind: kind.to_string(), learning_rate, steps, tensors }
    }

    /// A store holding `state`'s slots: every parameter with a step count has every slot, of
    /// one shape, and there are no other slots.
    pub(crate) fn import(slot_names: &'static [&'static str], kind: &str, state: &OptimizerState) -> Result<Self> {
        if state.kind != kind {
            return Err(NnError::optimizer_state(format!("written by `{}`, loading into `{kind}`", state.kind)));
        }
        let mut params = BTreeMap::new();
        for (name, &step) in &state.steps {
            let mut slots = Vec::with_capacity(slot_names.len());
            for slot in slot_names {
                let key = format!("{name}.{slot}");
                let array = state
                    .tensors
                    .get(&key)
                    .ok_or_else(|| NnError::optimizer_state(format!("missing slot `{key}` for `{name}`")))?;
                if let Some(first) = slots.first().map(|a: &ArrayD<f32>| a.shape())
                    && first != array.shape()
                {
                    return Err(NnError::optimizer_state(format!(
                        "slot `{key}` has shape {:?}, other slots of `{name}` have {first:?}",
                        array.shape()
                    )));
                }
                slots.push(array.clone());
            }
            params.insert(name.clone(), ParamSlots { step, slots });
        }
        let expected = params.len() * slot_names.len();
        if state.tensors.len() != expected {
            let unexpected = state
                .tensors
                .keys()
                .find(|k| split_slot_key(k).map_or(true, |(p, s)| !params.contains_key(p) || !slot_names.contains(&s)))
                .cloned()
                .unwrap_or_default();
            return Err(NnError::optimizer_state(format!("unexpected slot `{unexpected}` for `{kind}`")));
        }
        Ok(SlotStore { slot_names, params })
    }
}

/// Check that a gradient fits its parameter.
pub(crate) fn check_grad(name: &str, param: &Tensor, grad: &ArrayViewD<'_, f32>) -> Result<()> {
    if param.shape() != grad.shape() {
        return Err(NnError::GradientShape {
            name: name.to_string(),
            expected: param.shape().to_vec(),
            found: grad.shape().to_vec(),
        });
    }
    Ok(())
}

/// Run `f(param, grad, slot...)` element-wise over a parameter, its gradient and two slots,
/// in parallel for large parameters. Slots are in standard layout (created by this crate);
/// the parameter and gradient may have any layout of the same shape.
///
/// Contiguous arrays (the usual case) are walked as slices inside
/// [`elementwise::vectorized`], so with `f` marked `#[inline(always)]` the update is one
/// vectorised pass; parallel chunks have a fixed size, so results do not depend on the pool.
pub(crate) fn zip_update2(
    mut p: ArrayViewMutD<'_, f32>,
    g: ArrayViewD<'_, f32>,
    a: &mut ArrayD<f32>,
    b: &mut ArrayD<f32>,
    f: impl Fn(&mut f32, f32, &mut f32, &mut f32) + Sync + Send,
) {
    let parallel = worth_parallel(g.len());
    if let (Some(ps), Some(gs), Some(as_), Some(bs)) =
        (p.as_slice_mut(), g.as_slice(), a.as_slice_mut(), b.as_slice_mut())
    {
        if parallel {
            ps.par_chunks_mut(UPDATE_CHUNK)
                .zip(gs.par_chunks(UPDATE_CHUNK))
                .zip(as_.par_chunks_mut(UPDATE_CHUNK))
                .zip(bs.par_chunks_mut(UPDATE_CHUNK))
                .for_each(|(((p, g), a), b)| update_slices2(p, g, a, b, &f));
        } else {
            update_slices2(ps, gs, as_, bs, &f);
        }
        return;
    }
    let zip = Zip::from(p).and(&g).and(a).and(b);
    if parallel {
        zip.par_for_each(|p, &g, a, b| f(p, g, a, b));
    } else {
        zip.for_each(|p, &g, a, b| f(p, g, a, b));
    }
}

/// The loop of [`zip_update2`] over slices of equal length, vectorised.
#[inline(always)]
fn update_slices2(
    p: &mut [f32],
    g: &[f32],
    a: &mut [f32],
    b: &mut [f32],
    f: &impl Fn(&mut f32, f32, &mut f32, &mut f32),
) {
    elementwise::vectorized(
        #[inline(always)]
        || {
            for (((p, &g), a), b) in p.iter_mut().zip(g).zip(a.iter_mut()).zip(b.iter_mut()) {
                f(p, g, a, b);
            }
        },
    )
}

/// Elements per parallel task of [`zip_update2`].
const UPDATE_CHUNK: usize = 1 << 14;

/// As [`zip_update2`] with one slot.
pub(crate) fn zip_update1(
    p: ArrayViewMutD<'_, f32>,
    g: ArrayViewD<'_, f32>,
    a: &mut ArrayD<f32>,
    f: impl Fn(&mut f32, f32, &mut f32) + Sync + Send,
) {
    let zip = Zip::from(p).and(&g).and(a);
    if worth_parallel(g.len()) {
        zip.par_for_each(|p, &g, a| f(p, g, a));
    } else {
        zip.for_each(|p, &g, a| f(p, g, a));
    }
}

/// As [`zip_update2`] with no slot.
pub(crate) fn zip_update0(p: ArrayViewMutD<'_, f32>, g: ArrayViewD<'_, f32>, f: impl Fn(&mut f32, f32) + Sync + Send) {
    let zip = Zip::from(p).and(&g);
    if worth_parallel(g.len()) {
        zip.par_for_each(|p, &g| f(p, g));
    } else {
        zip.for_each(|p, &g| f(p, g));
    }
}

/// Reject a learning rate or hyper-parameter that PyTorch would reject.
pub(crate) fn check_hyper(what: &'static str, name: &str, v: f64, range: std::ops::RangeInclusive<f64>) -> Result<()> {
    if v.is_finite() && range.contains(&v) {
        Ok(())
    } else {
        Err(NnError::config(what, format!("{name} must be in [{}, {}], found {v}", range.start(), range.end())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Layer;
    use crate::layers::Linear;
    use latent_tensor::TensorRng;

    #[test]
    fn named_grads_take_moves_gradients_by_name() {
        let model = Linear::new(3, 2, &mut TensorRng::seed_from_u64(0)).unwrap();
        let x = Tensor::ones(&[4, 3]);
        let loss = model.weight().matmul(&x.t().unwrap()).unwrap().sum_all();
        let mut grads = loss.backward().unwrap();
        let named = NamedGrads::take(&model, &mut grads);
        assert_eq!(named.len(), 1);
        assert_eq!(named.get("weight").unwrap().shape(), [2, 3]);
        assert!(named.get("bias").is_none());
        assert!(grads.is_empty());
    }

    #[test]
    fn loose_tensors_step_exactly_as_the_same_module_does() {
        use crate::module::Ctx;
        let mut model = Linear::new(3, 2, &mut TensorRng::seed_from_u64(0)).unwrap();
        let mut w = Tensor::parameter(model.weight().to_array());
        let mut b = Tensor::parameter(model.bias().unwrap().to_array());
        let x = TensorRng::seed_from_u64(1).randn(&[4, 3]);
        let (mut by_module, mut by_name) =
            (adam::Adam::new(AdamConfig::adam(0.1)).unwrap(), adam::Adam::new(AdamConfig::adam(0.1)).unwrap());
        for _ in 0..3 {
            let grads = model.forward(&x, &mut Ctx::eval()).unwrap().square().sum_all().backward().unwrap();
            by_module.step(&mut model, &grads).unwrap();
            let grads = x.linear(&w, Some(&b)).unwrap().square().sum_all().backward().unwrap();
            by_name.step_tensors(&mut [("weight", &mut w), ("bias", &mut b)], &grads).unwrap();
        }
        assert_eq!(model.weight().to_vec(), w.to_vec());
        assert_eq!(model.bias().unwrap().to_vec(), b.to_vec());
        assert_eq!(by_module.state(), by_name.state());
    }

    #[test]
    fn slot_store_round_trips_and_rejects_foreign_state() {
        let mut store = SlotStore::new(&["a", "b"]);
        store.advance("w", &[2]).slots[0].fill(1.0);
        store.advance("w", &[2]);
        let state = store.export("x", 0.1);
        assert_eq!(state.steps["w"], 2);
        assert_eq!(state.tensors["w.a"].iter().copied().collect::<Vec<f32>>(), vec![1.0, 1.0]);
        let back = SlotStore::import(&["a", "b"], "x", &state).unwrap();
        assert_eq!(back.export("x", 0.1), state);
        assert!(SlotStore::import(&["a", "b"], "y", &state).is_err());
        let mut extra = state.clone();
        extra.tensors.insert("w.c".into(), ArrayD::zeros(IxDyn(&[2])));
        let err = SlotStore::import(&["a", "b"], "x", &extra).unwrap_err();
        assert!(err.to_string().contains("w.c"), "{err}");
        let mut missing = state;
        missing.tensors.remove("w.b");
        assert!(SlotStore::import(&["a", "b"], "x", &missing).unwrap_err().to_string().contains("missing slot `w.b`"));
    }
}
