//! Expansion of a checked sweep into a module. Generated code refers only to paths that
//! `sparse_scaling` re-exports (`::sparse_scaling::experiment`, `::sparse_scaling::runner`).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use sparse_scaling_experiment::ShapeKey;

use super::parse::SweepInput;
use super::validate::Checked;

pub fn expand_checked(input: &SweepInput, checked: &Checked) -> TokenStream {
    let vis = &input.vis;
    let mod_token = &input.mod_token;
    let name = &input.name;
    let label = &checked.label;
    let text = match &checked.file {
        Some(rel) => quote! { ::core::include_str!(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #rel)) },
        None => {
            let t = &checked.text;
            quote! { #t }
        }
    };
    // One monomorphised entry per distinct shape key of the sweep.
    let keys: BTreeSet<ShapeKey> = checked.points.iter().map(|p| ShapeKey::of(&p.spec)).collect();
    let mut entries = Vec::new();
    let mut arms = Vec::new();
    for key in &keys {
        let (pattern, call) = match *key {
            ShapeKey::Vit { width, mlp_width, depth, patch_values, patches, classes } => (
                quote! {
                    ::sparse_scaling::experiment::ShapeKey::Vit {
                        width: #width, mlp_width: #mlp_width, depth: #depth,
                        patch_values: #patch_values, patches: #patches, classes: #classes,
                    }
                },
                quote! { visitor.vit::<#patch_values, #patches, #width, #mlp_width, #depth, #classes>() },
            ),
            ShapeKey::T5 { width, mlp_width, depth, heads, vocab } => (
                quote! {
                    ::sparse_scaling::experiment::ShapeKey::T5 {
                        width: #width, mlp_width: #mlp_width, depth: #depth, heads: #heads, vocab: #vocab,
                    }
                },
                quote! { visitor.t5::<#vocab, #width, #mlp_width, #heads, #depth>() },
            ),
            ShapeKey::Decoder { width, mlp_width, depth, heads, vocab } => (
                quote! {
                    ::sparse_scaling::experiment::ShapeKey::Decoder {
                        width: #width, mlp_width: #mlp_width, depth: #depth, heads: #heads, vocab: #vocab,
                    }
                },
                quote! { visitor.decoder::<#vocab, #width, #mlp_width, #heads, #depth>() },
            ),
        };
        entries.push(pattern.clone());
        arms.push(quote! { #pattern => ::core::option::Option::Some(#call), });
    }
    let n_points = checked.points.len();
    let doc = format!("Sweep `{label}` ({n_points} points), declared with `sweep!` and checked at compile time.");
    quote! {
        #[doc = #doc]
        #vis #mod_token #name {
            /// The experiment as RON text (the schema of `.ron` experiment files).
            pub const RON: &str = #text;
            /// Label used for the experiment in messages.
            pub const LABEL: &str = #label;
            /// Number of points the sweep expands into.
            pub const POINTS: usize = #n_points;

            /// The experiment, parsed (it was validated at compile time, so this cannot fail).
            pub fn experiment() -> ::sparse_scaling::experiment::ExperimentFile {
                match ::sparse_scaling::experiment::ExperimentFile::from_str(LABEL, RON) {
                    ::core::result::Result::Ok(file) => file,
                    ::core::result::Result::Err(e) => ::core::unreachable!("sweep! checked this experiment at compile time: {}", e),
                }
            }

            /// The model shapes of this sweep, each monomorphised (dfdx needs shapes at compile time).
            pub struct Sizes;

            impl ::sparse_scaling::runner::registry::SizeTable for Sizes {
                fn keys() -> &'static [::sparse_scaling::experiment::ShapeKey] {
                    &[#(#entries),*]
                }
                fn dispatch<V: ::sparse_scaling::runner::registry::SizeVisitor>(
                    key: ::sparse_scaling::experiment::ShapeKey,
                    visitor: V,
                ) -> ::core::option::Option<V::Output> {
                    #[allow(unreachable_patterns)]
                    match key {
                        #(#arms)*
                        _ => ::core::option::Option::None,
                    }
                }
            }

            /// Runs the sweep (every point, then its fit, analysis and report) with the
            /// runner of the `sparse-scaling` CLI.
            pub fn run(
                options: ::sparse_scaling::runner::RunOptions,
            ) -> ::core::result::Result<::sparse_scaling::runner::SweepOutcome, ::sparse_scaling::runner::RunError> {
                ::sparse_scaling::runner::run_sweep::<Sizes>(&experiment(), options)
            }
        }
    }
}
