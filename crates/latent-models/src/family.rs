//! Model families and the registry that finds them: how a configuration becomes a model, and
//! how the command line, `eval` and the presets learn what a family offers.
//!
//! # Design
//! - A family's configuration is a plain serialisable type implementing [`FamilyConfig`]: its
//!   kind (the JSON tag), validation, what it needs from the data ([`Description`]), which
//!   model-shaping flags it accepts and how they change it, its presets, and how it is built.
//!   Everything about a family lives in its own file under [`crate::families`].
//! - A [`ModelConfig`] is the family-neutral form that travels in `config.json` and in the
//!   checkpoint's metadata: the kind plus the family's fields, exactly the JSON the family's
//!   type serialises to (`{"kind": "vae", "hidden": [400], ...}`), so configurations written
//!   before families existed still read.
//! - [`Family`] is the object-safe view of a family ([`FamilyOf`] makes one from a
//!   [`FamilyConfig`]); a [`Registry`] is a list of them. [`Registry::builtin`] holds latent's
//!   own; a library user adds a family with [`Registry::with`], and nothing else in the crate
//!   changes.
//! - Flags are data: the caller collects the model-shaping flags it was given into
//!   [`ModelFlags`] (name → text), the registry refuses those the family does not list, and the
//!   family parses the rest. A family that needs a new flag names it in its own file.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use latent_data::{DataSpec, NoiseSpec, Scale, ValueKind};
use latent_tensor::TensorRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::memory::Footprint;
use crate::model::Model;
use crate::train::TrainOptions;

/// A model's configuration in family-neutral form: its kind and the family's own fields.
///
/// Serialises as one flat JSON object with a `kind` tag, exactly as the family's configuration
/// type does, so old `config.json` files and checkpoint metadata read unchanged.
///
/// ```
/// use latent_models::ModelConfig;
/// let c: ModelConfig = serde_json::from_str(r#"{"kind":"vae","input_dim":784,"hidden":[400],
///     "latent_dim":20,"activation":"relu","beta":1.0}"#).unwrap();
/// assert_eq!(c.kind(), "vae");
/// let d = c.describe().unwrap();
/// assert_eq!((d.input_dim, d.latent_dim), (784, 20));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    kind: String,
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

impl ModelConfig {
    /// The neutral form of a family's configuration.
    ///
    /// # Panics
    /// Never for a configuration type that serialises to a JSON object (every family's does).
    pub fn new<C: FamilyConfig>(config: &C) -> Self {
        // Through text, so `f32` fields keep their shortest form (0.01, not 0.009999999776482582)
        // in `config.json` and the checkpoint's metadata, exactly as the typed form writes them.
        let text = serde_json::to_string(config).expect("a family configuration serialises to JSON");
        let value: serde_json::Value = serde_json::from_str(&text).expect("serde_json reads its own output");
        let serde_json::Value::Object(mut fields) = value else {
            panic!("a family configuration must serialise to a JSON object");
        };
        fields.remove("kind");
        ModelConfig { kind: config.kind().to_string(), fields }
    }

    /// The kind (`autoencoder`, `vae`, `gan`, ...), as `latent info` shows it.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The family's typed configuration, read back.
    ///
    /// # Errors
    /// If the fields do not make a `C` (the message names the kind and the field).
    pub fn typed<C: FamilyConfig>(&self) -> Result<C> {
        C::from_fields(&self.kind, serde_json::Value::Object(self.fields.clone()))
    }

    /// What the built-in family of this kind says about it (validating it first).
    ///
    /// # Errors
    /// If no built-in family knows the kind, or the configuration is invalid.
    pub fn describe(&self) -> Result<Description> {
        Registry::builtin().describe(self)
    }

    /// The sizes memory estimates start from ([`crate::memory`]), from the built-in family of
    /// this kind (validating it first).
    ///
    /// # Errors
    /// If no built-in family knows the kind, or the configuration is invalid.
    pub fn footprint(&self) -> Result<Footprint> {
        Registry::builtin().footprint(self)
    }

    /// Check every field with the built-in registry.
    ///
    /// # Errors
    /// On an unknown kind or the first invalid field.
    pub fn validate(&self) -> Result<()> {
        self.describe().map(|_| ())
    }
}

/// What a configured model needs from its data and offers its callers; the trainer, the CLI and
/// the pictures read these instead of matching on kinds.
#[derive(Clone, Debug, PartialEq)]
pub struct Description {
    /// The family's kind.
    pub kind: String,
    /// Values per example (784 for MNIST).
    pub input_dim: usize,
    /// The code size (the generator's noise size for a GAN).
    pub latent_dim: usize,
    /// The range training data are scaled to.
    pub scale: Scale,
    /// Corruption of the inputs during training (the target stays clean).
    pub noise: NoiseSpec,
    /// The number of labels the model is conditioned on, if it is.
    pub classes: Option<usize>,
}

/// The model-shaping flags a caller was given, by name (`"hidden"` for `--hidden`), as text; and
/// the data's shape, which every family adopts as its input shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelFlags {
    values: BTreeMap<String, String>,
    /// The shape `[channels, height, width]` of one example of the data the model will train
    /// on, when known (`[1, 1, D]` for rows of `D` features).
    pub data_shape: Option<[usize; 3]>,
    /// The number of classes of the data's labels, when known (conditional models and
    /// classifiers adopt it).
    pub classes: Option<usize>,
    /// What the data's values are, when known: families choose the likelihood and output
    /// layer that fit them (Bernoulli and a sigmoid for pixels, Gaussian and a linear output
    /// for standardised real values).
    pub value_kind: Option<ValueKind>,
}

impl ModelFlags {
    /// No flags.
    pub fn new() -> Self {
        ModelFlags::default()
    }

    /// The same flags for data whose examples have shape `[channels, height, width]`.
    #[must_use]
    pub fn for_data(mut self, shape: [usize; 3], classes: Option<usize>) -> Self {
        self.data_shape = Some(shape);
        self.classes = classes;
        self
    }

    /// The same flags for data the spec describes: its shape, classes and value kind.
    #[must_use]
    pub fn for_spec(mut self, spec: &DataSpec) -> Self {
        self.data_shape = Some(spec.shape.dims());
        self.classes = spec.classes();
        self.value_kind = Some(spec.values);
        self
    }

    /// Record flag `name` (without dashes) with its text.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values.insert(name.to_string(), value.into());
        self
    }

    /// Record flag `name` if `value` is given.
    pub fn set_opt<T: ToString>(&mut self, name: &str, value: Option<T>) {
        if let Some(v) = value {
            self.values.insert(name.to_string(), v.to_string());
        }
    }

    /// The names given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Flag `name` parsed as a `T`, if given.
    ///
    /// # Errors
    /// If the text does not parse; the message names the flag.
    pub fn get<T: FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: fmt::Display,
    {
        self.values
            .get(name)
            .map(|text| text.parse::<T>().map_err(|e| ModelError::input(format!("--{name} {text}"), e.to_string())))
            .transpose()
    }

    /// Flag `name` as a comma-separated list of sizes (`512,128`; empty for none).
    ///
    /// # Errors
    /// If an item is not a positive integer.
    pub fn get_widths(&self, name: &str) -> Result<Option<Vec<usize>>> {
        let Some(text) = self.values.get(name) else { return Ok(None) };
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(Some(Vec::new()));
        }
        text.split(',')
            .map(|w| match w.trim().parse::<usize>() {
                Ok(v) if v > 0 => Ok(v),
                _ => Err(ModelError::input(
                    format!("--{name} {text}"),
                    format!("`{w}` is not a positive integer (expected comma-separated widths like 512,128)"),
                )),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

/// A named model configuration with its training defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// The command-line model name (`ae`, `dae`, `vae`, ...).
    pub model: &'static str,
    /// The preset's name within that model.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// The model.
    pub config: ModelConfig,
    /// Training defaults.
    pub train: TrainOptions,
}

/// A family's configuration type: everything the rest of latent needs to know about a family.
/// Implement it in one file (with the model type) and add the family to a [`Registry`].
pub trait FamilyConfig: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Every kind this family reads (the first is its own; others are older names it still
    /// reads, or members told apart by the kind).
    const KINDS: &'static [&'static str];

    /// The model-shaping flags (names without dashes) this family accepts, for the command-line
    /// name `model` (the same type can accept different flags under different names).
    fn flags(model: &str) -> &'static [&'static str];

    /// This configuration's kind (one of [`FamilyConfig::KINDS`]).
    fn kind(&self) -> &'static str {
        Self::KINDS[0]
    }

    /// Read a configuration of kind `kind` from its JSON fields (the default: plain serde).
    ///
    /// # Errors
    /// If the fields do not make a configuration.
    fn from_fields(kind: &str, fields: serde_json::Value) -> Result<Self> {
        serde_json::from_value(fields).map_err(|e| ModelError::config(kind, e.to_string()))
    }

    /// Check every field; the error names the field and what was expected.
    ///
    /// # Errors
    /// On the first invalid field.
    fn validate(&self) -> Result<()>;

    /// What the model needs from its data and offers (called on validated configurations).
    fn describe(&self) -> Description;

    /// The sizes memory estimates start from ([`crate::memory`]), counted from the
    /// configuration (called on validated configurations, before anything is built). The
    /// default counts a dense autoencoder of the described sizes; a family whose layers are
    /// other should count its own ([`Footprint::of_layers`] on its layer lists), as every
    /// built-in family does.
    fn footprint(&self) -> Footprint {
        Footprint::from_description(&self.describe())
    }

    /// Apply the flags (only those of [`FamilyConfig::flags`] reach it) and the data size.
    ///
    /// # Errors
    /// If a flag's text does not fit.
    fn apply_flags(&mut self, flags: &ModelFlags) -> Result<()>;

    /// The family's presets (the first per command-line name is that name's default).
    fn presets() -> Vec<Preset>;

    /// Build the model with fresh weights drawn from `rng` (called on validated configurations).
    ///
    /// # Errors
    /// If a layer cannot be built.
    fn build(&self, rng: &mut TensorRng) -> Result<Box<dyn Model>>;
}

/// The object-safe view of a family, as a [`Registry`] holds it.
pub trait Family: Sync {
    /// Every kind the family reads.
    fn kinds(&self) -> &'static [&'static str];
    /// The flags it accepts under command-line name `model`.
    fn flags(&self, model: &str) -> &'static [&'static str];
    /// Its presets.
    fn presets(&self) -> Vec<Preset>;
    /// Validate and describe a configuration of one of its kinds.
    ///
    /// # Errors
    /// If the configuration does not parse or is invalid.
    fn describe(&self, config: &ModelConfig) -> Result<Description>;
    /// Validate a configuration of one of its kinds and count its sizes
    /// ([`FamilyConfig::footprint`]).
    ///
    /// # Errors
    /// If the configuration does not parse or is invalid.
    fn footprint(&self, config: &ModelConfig) -> Result<Footprint>;
    /// Apply flags to a configuration of one of its kinds, and validate the result.
    ///
    /// # Errors
    /// If a flag does not fit or the result is invalid.
    fn apply_flags(&self, config: &mut ModelConfig, flags: &ModelFlags) -> Result<()>;
    /// Build a model from a configuration of one of its kinds.
    ///
    /// # Errors
    /// If the configuration is invalid or a layer cannot be built.
    fn build(&self, config: &ModelConfig, rng: &mut TensorRng) -> Result<Box<dyn Model>>;
}

/// The [`Family`] of a [`FamilyConfig`] type: `&FamilyOf::<MyConfig>::NEW` goes in a registry.
pub struct FamilyOf<C>(PhantomData<fn() -> C>);

impl<C> FamilyOf<C> {
    /// The family (a constant, so it can live in a `static` list).
    pub const NEW: FamilyOf<C> = FamilyOf(PhantomData);
}

impl<C: FamilyConfig> Family for FamilyOf<C> {
    fn kinds(&self) -> &'static [&'static str] {
        C::KINDS
    }

    fn flags(&self, model: &str) -> &'static [&'static str] {
        C::flags(model)
    }

    fn presets(&self) -> Vec<Preset> {
        C::presets()
    }

    fn describe(&self, config: &ModelConfig) -> Result<Description> {
        let typed: C = config.typed()?;
        typed.validate()?;
        Ok(typed.describe())
    }

    fn footprint(&self, config: &ModelConfig) -> Result<Footprint> {
        let typed: C = config.typed()?;
        typed.validate()?;
        Ok(typed.footprint())
    }

    fn apply_flags(&self, config: &mut ModelConfig, flags: &ModelFlags) -> Result<()> {
        let mut typed: C = config.typed()?;
        typed.apply_flags(flags)?;
        typed.validate()?;
        *config = ModelConfig::new(&typed);
        Ok(())
    }

    /// Refuses, before allocating, a model whose weights alone exceed the memory limit.
    fn build(&self, config: &ModelConfig, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
        let typed: C = config.typed()?;
        typed.validate()?;
        let footprint = typed.footprint();
        crate::memory::check(
            || format!("a {} model of {} parameters", config.kind(), footprint.parameters),
            footprint.weights_bytes(),
        )?;
        typed.build(rng)
    }
}

/// A list of families: what `latent train` offers and what configurations can be built from.
#[derive(Clone)]
pub struct Registry {
    families: Vec<&'static dyn Family>,
}

impl Registry {
    /// latent's own families ([`crate::families::BUILTIN`]).
    pub fn builtin() -> Self {
        Registry { families: crate::families::BUILTIN.to_vec() }
    }

    /// This registry and one more family (its kinds must be new).
    ///
    /// # Errors
    /// If one of its kinds is already registered.
    pub fn with(mut self, family: &'static dyn Family) -> Result<Self> {
        if let Some(kind) = family.kinds().iter().find(|k| self.family(k).is_ok()) {
            return Err(ModelError::config("kind", format!("`{kind}` is already registered")));
        }
        self.families.push(family);
        Ok(self)
    }

    /// The family that reads `kind`.
    ///
    /// # Errors
    /// If none does; the message lists the kinds known.
    pub fn family(&self, kind: &str) -> Result<&'static dyn Family> {
        self.families.iter().copied().find(|f| f.kinds().contains(&kind)).ok_or_else(|| {
            let known: Vec<&str> = self.families.iter().flat_map(|f| f.kinds().iter().copied()).collect();
            ModelError::config("kind", format!("unknown model kind `{kind}`; known kinds: {}", known.join(", ")))
        })
    }

    /// Validate and describe `config`.
    ///
    /// # Errors
    /// If its kind is unknown or it is invalid.
    pub fn describe(&self, config: &ModelConfig) -> Result<Description> {
        self.family(config.kind())?.describe(config)
    }

    /// Validate `config` and count its sizes for memory estimates ([`crate::memory`]).
    ///
    /// # Errors
    /// If its kind is unknown or it is invalid.
    pub fn footprint(&self, config: &ModelConfig) -> Result<Footprint> {
        self.family(config.kind())?.footprint(config)
    }

    /// Build the model `config` describes, with fresh weights drawn from `rng`.
    ///
    /// # Errors
    /// If its kind is unknown or it is invalid, or its weights alone would exceed the memory
    /// limit ([`crate::memory`]).
    pub fn build(&self, config: &ModelConfig, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
        self.family(config.kind())?.build(config, rng)
    }

    /// Every preset of every family, in registry order.
    pub fn presets(&self) -> Vec<Preset> {
        self.families.iter().flat_map(|f| f.presets()).collect()
    }

    /// The command-line model names, in registry order, each once.
    pub fn model_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for p in self.presets() {
            if !names.contains(&p.model) {
                names.push(p.model);
            }
        }
        names
    }

    /// The preset `name` of command-line model `model`, or the model's default (its first
    /// preset) when `name` is `None`.
    ///
    /// # Errors
    /// If the model or preset is unknown (the message lists the choices).
    pub fn preset(&self, model: &str, name: Option<&str>) -> Result<Preset> {
        let of_model: Vec<Preset> = self.presets().into_iter().filter(|p| p.model == model).collect();
        if of_model.is_empty() {
            return Err(ModelError::UnknownPreset { name: model.to_string(), choices: self.model_names().join(", ") });
        }
        match name {
            None => Ok(of_model[0].clone()),
            Some(n) => of_model.iter().find(|p| p.name == n).cloned().ok_or_else(|| ModelError::UnknownPreset {
                name: format!("{model} --preset {n}"),
                choices: of_model.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Every flag any family accepts, sorted, each once (for help texts).
    pub fn all_flags(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = Vec::new();
        for name in self.model_names() {
            let preset = self.preset(name, None).expect("a listed name has a preset");
            if let Ok(f) = self.family(preset.config.kind()) {
                all.extend(f.flags(name));
            }
        }
        all.sort_unstable();
        all.dedup();
        all
    }

    /// `config` (of command-line model `model`) changed by `flags`: flags the family does not
    /// accept under that name are refused by name, the rest applied, the result validated.
    ///
    /// # Errors
    /// On a refused flag, a flag that does not parse, or an invalid result.
    pub fn apply_flags(&self, model: &str, config: &mut ModelConfig, flags: &ModelFlags) -> Result<()> {
        let family = self.family(config.kind())?;
        let accepted = family.flags(model);
        let refused: Vec<String> = flags.names().filter(|n| !accepted.contains(n)).map(|n| format!("--{n}")).collect();
        if !refused.is_empty() {
            let verb = if refused.len() == 1 { "does" } else { "do" };
            let takes = if accepted.is_empty() {
                "it takes none of the model flags".to_string()
            } else {
                format!("it takes {}", accepted.iter().map(|a| format!("--{a}")).collect::<Vec<_>>().join(", "))
            };
            return Err(ModelError::FlagsRefused { flags: refused.join(", "), verb, model: model.to_string(), takes });
        }
        family.apply_flags(config, flags)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.families.iter().map(|fam| fam.kinds())).finish()
    }
}

/// Build the model `config` describes with the built-in families.
///
/// # Errors
/// If its kind is unknown or it is invalid.
pub fn build_model(config: &ModelConfig, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
    Registry::builtin().build(config, rng)
}
