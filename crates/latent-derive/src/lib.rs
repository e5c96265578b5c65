//! `#[derive(Module)]` for latent-nn: the parameters, buffers and sub-modules of a struct are
//! found from its fields, and named after them as PyTorch's `state_dict` names them.
//!
//! Use it through latent-nn, where the derive and the trait share the name `Module` (as serde's
//! `Serialize` does): `use latent_nn::Module;` brings both.
//!
//! # Field rules
//! Fields are visited in declaration order, each under its own name (`join(prefix, "field")`):
//!
//! | field | what it is |
//! | --- | --- |
//! | type whose last path segment is `Tensor` | a parameter named after the field |
//! | `Option<Tensor>` | an optional parameter, visited when `Some` |
//! | `#[module(buffer)]` on an `ArrayD<f32>` or an `i64` | a buffer (`Buffer::F32` / `Buffer::I64`) |
//! | `#[module(skip)]` | nothing: configurations, caches, options |
//! | **any other field** | a sub-module: its type must implement `Module` |
//!
//! and two attributes change the name:
//!
//! - `#[module(rename = "fc_mu")]`: the field's state-dict name is `fc_mu` instead of the
//!   field's name (parameters, buffers and sub-modules alike).
//! - `#[module(flatten)]` on a sub-module: its contents take this struct's own prefix instead of
//!   `prefix.field` (how `Sequential` names its layers `0`, `1`, ... rather than `layers.0`).
//!
//! Because every field that is not a parameter, a buffer or skipped must be a `Module`, a field
//! left out by mistake is a compile error naming the field's type, never a parameter silently
//! missing from checkpoints and optimisers. latent-nn implements `Module` for `Vec<M>` (children
//! named `0`, `1`, ...), `Option<M>` (visited when `Some`, under the field's name) and
//! `Box<M>` (also `Box<dyn Layer>`), so those need no attribute.
//!
//! The typed walk (`visit_modules`, `visit_modules_mut`) hands out the struct itself, then each
//! sub-module's walk in field order; `Vec`, `Option` and `Box` are transparent (they hand out
//! what they hold, not themselves), so a caller can `downcast_mut::<BatchNorm2d>()` what it gets.
//!
//! Named-field and unit structs can derive `Module`, with type and const generics (a bound
//! `T: 'static` is added for each type parameter: the walk hands modules out as `dyn Any`).
//! Tuple structs, enums, unions, lifetime parameters and unknown `#[module(...)]` attributes
//! are compile errors pointing at the offending item.
//!
//! # Example
//! ```
//! use latent_nn::layers::{Linear, Sequential};
//! use latent_nn::{Buffer, Module};
//! use latent_tensor::{Tensor, TensorRng};
//! use ndarray::ArrayD;
//!
//! #[derive(Module)]
//! struct Encoder {
//!     trunk: Sequential,
//!     #[module(rename = "fc_mu")]
//!     mu: Linear,
//!     scale: Tensor,
//!     shift: Option<Tensor>,
//!     #[module(buffer)]
//!     seen: i64,
//!     #[module(buffer)]
//!     running_mean: ArrayD<f32>,
//!     #[module(skip)]
//!     latent_dim: usize,
//! }
//!
//! let mut rng = TensorRng::seed_from_u64(0);
//! let encoder = Encoder {
//!     trunk: Sequential::new().with(Linear::new(4, 3, &mut rng)?),
//!     mu: Linear::new(3, 2, &mut rng)?,
//!     scale: Tensor::parameter(ndarray::arr1(&[1.0f32, 1.0])),
//!     shift: None,
//!     seen: 0,
//!     running_mean: ArrayD::zeros(ndarray::IxDyn(&[2])),
//!     latent_dim: 2,
//! };
//! let names: Vec<String> = encoder.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["trunk.0.weight", "trunk.0.bias", "fc_mu.weight", "fc_mu.bias", "scale"]);
//! let mut buffers = Vec::new();
//! encoder.visit_buffers("enc", &mut |name, b| {
//!     buffers.push((name.to_string(), matches!(b, Buffer::I64(_))));
//! });
//! assert_eq!(buffers, [("enc.seen".to_string(), true), ("enc.running_mean".to_string(), false)]);
//!
//! // The typed walk: the struct, the Sequential, its Linear, then fc_mu.
//! let mut linears = Vec::new();
//! encoder.visit_modules("", &mut |name, m| {
//!     if m.downcast_ref::<Linear>().is_some() {
//!         linears.push(name.to_string());
//!     }
//! });
//! assert_eq!(linears, ["trunk.0", "fc_mu"]);
//! # Ok::<(), latent_nn::NnError>(())
//! ```
//!
//! # Compile errors
//! A field that is neither a parameter, a buffer, skipped nor a `Module` is refused, naming the
//! field's type (here `usize`: the fix is `#[module(skip)]`):
//! ```compile_fail,E0277
//! #[derive(latent_nn::Module)]
//! struct Model {
//!     encoder: latent_nn::layers::Linear,
//!     latent_dim: usize,
//! }
//! ```
//! So are tuple structs (they have no field names to name parameters by):
//! ```compile_fail
//! #[derive(latent_nn::Module)]
//! struct Pair(latent_nn::layers::Linear, latent_nn::layers::Linear);
//! ```
//! and misspelt options:
//! ```compile_fail
//! #[derive(latent_nn::Module)]
//! struct Counter {
//!     #[module(bufer)]
//!     count: i64,
//! }
//! ```

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, GenericParam, LitStr, PathArguments, Type, parse_macro_input};

/// Derive latent-nn's `Module` (the six visitors) from a struct's fields; see the
/// [crate docs](crate) for the field rules and attributes (`buffer`, `skip`, `rename = "..."`,
/// `flatten`).
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// What a field is to the module.
enum Role {
    /// A `Tensor` parameter.
    Param,
    /// An `Option<Tensor>` parameter.
    OptionalParam,
    /// A `#[module(buffer)]` field.
    Buffer,
    /// A sub-module, under its own name or (flattened) under the struct's prefix.
    Module { flatten: bool },
}

/// A visited field: how to reach it, its state-dict name, its type and role.
struct Member {
    access: TokenStream2,
    name: String,
    ty: Type,
    role: Role,
}

/// The `#[module(...)]` options of one field.
#[derive(Default)]
struct FieldAttrs {
    buffer: Option<Span>,
    skip: Option<Span>,
    flatten: Option<Span>,
    rename: Option<LitStr>,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if let Some(attr) = input.attrs.iter().find(|a| a.path().is_ident("module")) {
        return Err(syn::Error::new_spanned(
            attr,
            "#[module(...)] attributes go on fields (buffer, skip, rename = \"...\", flatten), not on the struct",
        ));
    }
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                "#[derive(Module)] supports structs with named fields only, not enums",
            ));
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Module)] supports structs with named fields only, not unions",
            ));
        }
    };
    let members = match fields {
        Fields::Named(named) => {
            let mut members: Vec<Member> = Vec::new();
            for field in &named.named {
                let attrs = field_attrs(field)?;
                let ident = field.ident.as_ref().expect("named fields have names");
                if let Some(member) = member(field, ident, attrs)? {
                    if !matches!(member.role, Role::Module { flatten: true })
                        && let Some(other) = members
                            .iter()
                            .find(|m| m.name == member.name && !matches!(m.role, Role::Module { flatten: true }))
                    {
                        return Err(syn::Error::new(
                            ident.span(),
                            format!("two fields have the state-dict name `{}`; rename one", other.name),
                        ));
                    }
                    members.push(member);
                }
            }
            members
        }
        Fields::Unit => Vec::new(),
        Fields::Unnamed(unnamed) => {
            return Err(syn::Error::new(
                unnamed.span(),
                "#[derive(Module)] supports structs with named fields only (the names become state-dict names), \
                 not tuple structs",
            ));
        }
    };
    if let Some(lifetime) = input.generics.lifetimes().next() {
        return Err(syn::Error::new_spanned(
            lifetime,
            "a Module must be 'static (the typed walk hands modules out as `dyn Any`), so it cannot borrow: \
             remove the lifetime parameter",
        ));
    }
    let mut generics = input.generics.clone();
    let type_params: Vec<_> = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.clone()),
            _ => None,
        })
        .collect();
    let where_clause = generics.make_where_clause();
    for t in type_params {
        where_clause.predicates.push(syn::parse_quote!(#t: 'static));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let name = &input.ident;

    let visit_params = body(&members, |m, prefix| match m.role {
        Role::Param => {
            let access = &m.access;
            Some(quote!(f(#prefix, &self.#access);))
        }
        Role::OptionalParam => {
            let access = &m.access;
            Some(quote!(if let ::core::option::Option::Some(p) = &self.#access { f(#prefix, p); }))
        }
        Role::Buffer => None,
        Role::Module { .. } => Some(delegate(m, quote!(visit_params), quote!(&self), prefix)),
    });
    let visit_params_mut = body(&members, |m, prefix| match m.role {
        Role::Param => {
            let access = &m.access;
            Some(quote!(f(#prefix, &mut self.#access);))
        }
        Role::OptionalParam => {
            let access = &m.access;
            Some(quote!(if let ::core::option::Option::Some(p) = &mut self.#access { f(#prefix, p); }))
        }
        Role::Buffer => None,
        Role::Module { .. } => Some(delegate(m, quote!(visit_params_mut), quote!(&mut self), prefix)),
    });
    let visit_buffers = body(&members, |m, prefix| match m.role {
        Role::Param | Role::OptionalParam => None,
        Role::Buffer => {
            let (access, ty) = (&m.access, &m.ty);
            Some(
                quote_spanned!(ty.span()=> f(#prefix, <#ty as ::latent_nn::module::BufferField>::buffer(&self.#access));),
            )
        }
        Role::Module { .. } => Some(delegate(m, quote!(visit_buffers), quote!(&self), prefix)),
    });
    let visit_buffers_mut = body(&members, |m, prefix| match m.role {
        Role::Param | Role::OptionalParam => None,
        Role::Buffer => {
            let (access, ty) = (&m.access, &m.ty);
            Some(quote_spanned!(ty.span()=>
                f(#prefix, <#ty as ::latent_nn::module::BufferField>::buffer_mut(&mut self.#access));
            ))
        }
        Role::Module { .. } => Some(delegate(m, quote!(visit_buffers_mut), quote!(&mut self), prefix)),
    });
    let visit_modules = body(&members, |m, prefix| match m.role {
        Role::Module { .. } => Some(delegate(m, quote!(visit_modules), quote!(&self), prefix)),
        _ => None,
    });
    let visit_modules_mut = body(&members, |m, prefix| match m.role {
        Role::Module { .. } => Some(delegate(m, quote!(visit_modules_mut), quote!(&mut self), prefix)),
        _ => None,
    });

    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics ::latent_nn::Module for #name #ty_generics #where_clause {
            fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &::latent_nn::module::Tensor)) {
                #visit_params
            }

            fn visit_params_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut ::latent_nn::module::Tensor)) {
                #visit_params_mut
            }

            fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, ::latent_nn::module::Buffer<'_>)) {
                #visit_buffers
            }

            fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ::latent_nn::module::BufferMut<'_>)) {
                #visit_buffers_mut
            }

            fn visit_modules(&self, prefix: &str, f: &mut dyn FnMut(&str, &dyn ::core::any::Any)) {
                f(prefix, self);
                #visit_modules
            }

            fn visit_modules_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut dyn ::core::any::Any)) {
                f(prefix, self);
                #visit_modules_mut
            }
        }
    })
}

/// The statements of one visitor: `each(member, name_expr)` for every member, in order; the
/// parameters are marked used when no statement uses them.
fn body(members: &[Member], each: impl Fn(&Member, TokenStream2) -> Option<TokenStream2>) -> TokenStream2 {
    let statements: Vec<TokenStream2> = members
        .iter()
        .filter_map(|m| {
            let prefix = match m.role {
                Role::Module { flatten: true } => quote!(prefix),
                _ => {
                    let name = &m.name;
                    quote!(&::latent_nn::module::join(prefix, #name))
                }
            };
            each(m, prefix)
        })
        .collect();
    if statements.is_empty() { quote!(let _ = (prefix, f);) } else { quote!(#(#statements)*) }
}

/// `<Ty as Module>::method(receiver.field, prefix, f)`, spanned at the field's type so that a
/// field whose type is not a `Module` is reported there.
fn delegate(m: &Member, method: TokenStream2, receiver: TokenStream2, prefix: TokenStream2) -> TokenStream2 {
    let (access, ty) = (&m.access, &m.ty);
    quote_spanned!(ty.span()=> <#ty as ::latent_nn::Module>::#method(#receiver.#access, #prefix, f);)
}

/// The role and name of `field`, or `None` for a skipped field.
fn member(field: &syn::Field, ident: &syn::Ident, attrs: FieldAttrs) -> syn::Result<Option<Member>> {
    if let Some(skip) = attrs.skip {
        if attrs.buffer.is_some() || attrs.flatten.is_some() || attrs.rename.is_some() {
            return Err(syn::Error::new(skip, "a skipped field takes no other #[module(...)] option"));
        }
        return Ok(None);
    }
    let param = param_kind(&field.ty);
    let role = if let Some(span) = attrs.buffer {
        if attrs.flatten.is_some() {
            return Err(syn::Error::new(span, "a buffer cannot be flattened; `flatten` is for sub-modules"));
        }
        if param.is_some() {
            return Err(syn::Error::new(
                span,
                "a Tensor field is a parameter; buffers are `ArrayD<f32>` or `i64` fields",
            ));
        }
        Role::Buffer
    } else if let Some(role) = param {
        if let Some(span) = attrs.flatten {
            return Err(syn::Error::new(span, "a parameter cannot be flattened; `flatten` is for sub-modules"));
        }
        role
    } else {
        Role::Module { flatten: attrs.flatten.is_some() }
    };
    if let (Some(span), Some(_)) = (attrs.flatten, &attrs.rename) {
        return Err(syn::Error::new(span, "a flattened field has no name of its own to rename"));
    }
    let name = match &attrs.rename {
        Some(lit) => lit.value(),
        None => ident.unraw().to_string(),
    };
    Ok(Some(Member { access: quote!(#ident), name, ty: field.ty.clone(), role }))
}

/// `Some(Param)` for a type whose last path segment is `Tensor`, `Some(OptionalParam)` for
/// `Option<…Tensor>`, `None` otherwise.
fn param_kind(ty: &Type) -> Option<Role> {
    let last = last_segment(ty)?;
    if last.ident == "Tensor" {
        return Some(Role::Param);
    }
    if last.ident == "Option"
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && args.args.len() == 1
        && let Some(GenericArgument::Type(inner)) = args.args.first()
        && last_segment(inner).is_some_and(|s| s.ident == "Tensor")
    {
        return Some(Role::OptionalParam);
    }
    None
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// Parse every `#[module(...)]` attribute of `field`.
fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut attrs = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let once = |slot: &mut Option<Span>, what: &str| {
                if slot.replace(span).is_some() {
                    Err(syn::Error::new(span, format!("`{what}` is given twice")))
                } else {
                    Ok(())
                }
            };
            if meta.path.is_ident("buffer") {
                once(&mut attrs.buffer, "buffer")
            } else if meta.path.is_ident("skip") {
                once(&mut attrs.skip, "skip")
            } else if meta.path.is_ident("flatten") {
                once(&mut attrs.flatten, "flatten")
            } else if meta.path.is_ident("rename") {
                let lit: LitStr = meta.value()?.parse()?;
                let value = lit.value();
                if value.is_empty() || value.contains('.') {
                    return Err(syn::Error::new(
                        lit.span(),
                        "a state-dict name must be non-empty and contain no `.` (use `flatten` to drop the name)",
                    ));
                }
                if attrs.rename.replace(lit).is_some() {
                    return Err(syn::Error::new(span, "`rename` is given twice"));
                }
                Ok(())
            } else {
                let found = meta.path.get_ident().map_or_else(|| "this".to_string(), |i| format!("`{i}`"));
                Err(syn::Error::new(
                    span,
                    format!(
                        "unknown #[module(...)] option {found}; expected `buffer`, `skip`, `rename = \"name\"` or `flatten`"
                    ),
                ))
            }
        })?;
    }
    Ok(attrs)
}
