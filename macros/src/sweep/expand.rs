//! Expansion of a checked sweep into a module. Generated code refers only to paths that
//! `sparse_scaling` re-exports (`::sparse_scaling::spec`, `::sparse_scaling::runner`).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use sparse_scaling_experiment::Family;

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
    // One monomorphised entry per distinct (family, width, MLP width) of the sweep.
    let sizes: BTreeSet<(bool, usize, usize)> = checked
        .points
        .iter()
        .map(|p| (p.spec.family == Family::T5, p.spec.dims.width, p.spec.dims.mlp_width))
        .collect();
    let mut entries = Vec::new();
    let mut arms = Vec::new();
    for (is_t5, d, f) in &sizes {
        let (fam, call) = if *is_t5 {
            (quote! { ::sparse_scaling::experiment::Family::T5 }, quote! { visitor.t5::<#d, #f>() })
        } else {
            (quote! { ::sparse_scaling::experiment::Family::Vit }, quote! { visitor.vit::<#d, #f>() })
        };
        entries.push(quote! {
            ::sparse_scaling::runner::registry::CompiledSize { family: #fam, width: #d, mlp_width: #f }
        });
        arms.push(quote! { (#fam, #d, #f) => ::core::option::Option::Some(#call), });
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

            /// The model sizes of this sweep, each monomorphised (dfdx needs shapes at compile time).
            pub struct Sizes;

            impl ::sparse_scaling::runner::registry::SizeTable for Sizes {
                fn sizes() -> &'static [::sparse_scaling::runner::registry::CompiledSize] {
                    &[#(#entries),*]
                }
                fn dispatch<V: ::sparse_scaling::runner::registry::SizeVisitor>(
                    family: ::sparse_scaling::experiment::Family,
                    width: usize,
                    mlp_width: usize,
                    visitor: V,
                ) -> ::core::option::Option<V::Output> {
                    match (family, width, mlp_width) {
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
