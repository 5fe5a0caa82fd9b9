//! `sweep!`: a sparse scaling study declared in a user's crate.
//!
//! Two forms, both expanding into a module:
//!
//! ```text
//! sweep! {
//!     pub mod quick {                      // the module to generate
//!         name: "quick",                   // then the fields of an experiment file,
//!         model: (family: Vit, sizes: Widths([32, 64]), heads: 4),   // in RON syntax
//!         sparsity: [0.0, 0.5, 0.75],
//!         steps: [100, 200],
//!     }
//! }
//! sweep!(mod paper_t5 = "experiments/t5_sweep.ron");   // a file, read at compile time
//! ```
//!
//! The body is the same schema as a `.ron` experiment file (`sparse_scaling::spec`), parsed and
//! validated at compile time by the same code (so a sweep and a file can never disagree);
//! every problem becomes a compile error on the offending tokens. The expansion holds the
//! experiment text, a size table with one monomorphised entry per (family, width, MLP width)
//! the sweep needs — this is how a sweep gets its dfdx types — and a `run` entry point.
//!
//! Split as parse ([`parse`]) → validate ([`validate`]) → expand ([`expand`]).

mod expand;
mod parse;
mod validate;

pub use expand::expand_checked as expand_validated;
pub use parse::SweepInput;

/// Parse has happened; validate, then expand.
pub fn expand(input: SweepInput) -> syn::Result<proc_macro2::TokenStream> {
    let checked = validate::validate(&input)?;
    Ok(expand_validated(&input, &checked))
}
