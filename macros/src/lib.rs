//! Procedural macros of sparse-scaling: [`law!`] checks a scaling-law formula at compile time
//! with the same nom parser the law engine uses at run time (docs/THEORY.md §1, Eq. 1 is the
//! default law); [`sweep!`] declares a sparse scaling study in Rust syntax, checks at compile
//! time everything that can be checked, and expands into typed dfdx training code per size.
//!
//! Each macro is split as thiserror and serde_derive split theirs: parse (one `syn::Parse`
//! per grammar rule) → validate → expand. Every error is a `syn::Error::new_spanned` on the
//! offending tokens. Generated code refers only to paths that `sparse_scaling` re-exports.

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod law_macro;
mod sweep;

/// Checks a scaling-law formula at compile time and evaluates to a
/// `sparse_scaling::law::Law`.
///
/// (Runs as a doc test of `sparse_scaling`, which re-exports this macro.)
///
/// ```text
/// use sparse_scaling::law;
/// let l = law!("(a*(1-S)^b + c) * N^(-d) + e*D^(-f) + g");
/// assert_eq!(l.param_names(), ["a", "b", "c", "d", "e", "f", "g"]);
/// // Declared variables (default: S, N, D, C):
/// let chinchilla = law!("E + A/P^alpha + B/T^beta", vars = [P, T]);
/// assert_eq!(chinchilla.var_names(), ["P", "T"]);
/// ```
///
/// A formula that does not parse, or that uses none of its variables, is a compile error
/// pointing at the string literal, with the column and a caret under the problem.
#[proc_macro]
pub fn law(input: TokenStream) -> TokenStream {
    let parsed = syn::parse_macro_input!(input as law_macro::LawInput);
    law_macro::expand(parsed).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Declares a sparse scaling sweep; see the `sweep` module docs of `sparse_scaling`.
#[proc_macro]
pub fn sweep(input: TokenStream) -> TokenStream {
    let parsed = syn::parse_macro_input!(input as sweep::SweepInput);
    sweep::expand(parsed).unwrap_or_else(syn::Error::into_compile_error).into()
}
