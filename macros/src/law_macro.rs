//! `law!("formula" [, vars = [S, N, D]] [, params = [a, b]])`: parse → validate → expand.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, Ident, LitStr, Token};

use sparse_scaling_law::{Law, LawError};

/// The whole macro input: a formula literal and optional declarations.
pub struct LawInput {
    formula: LitStr,
    vars: Option<NameList>,
    params: Option<NameList>,
}

/// `key = [a, b, c]`
struct NameList {
    key: Ident,
    names: Vec<Ident>,
}

impl Parse for NameList {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let content;
        bracketed!(content in input);
        let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
        Ok(NameList { key, names: names.into_iter().collect() })
    }
}

impl Parse for LawInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let formula: LitStr = input.parse()?;
        let mut vars = None;
        let mut params = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let list: NameList = input.parse()?;
            let slot = match list.key.to_string().as_str() {
                "vars" => &mut vars,
                "params" => &mut params,
                _ => {
                    return Err(syn::Error::new_spanned(
                        &list.key,
                        "unknown option: law! takes `vars = [..]` and `params = [..]`",
                    ))
                }
            };
            if slot.is_some() {
                return Err(syn::Error::new_spanned(&list.key, "this option is given twice"));
            }
            *slot = Some(list);
        }
        Ok(LawInput { formula, vars, params })
    }
}

fn names(list: &Option<NameList>) -> Option<Vec<String>> {
    list.as_ref().map(|l| l.names.iter().map(|i| i.to_string()).collect())
}

/// Validates the formula with the run-time parser, then expands to code that rebuilds the
/// same `Law` (which cannot fail, since the same parser accepted it here).
pub fn expand(input: LawInput) -> syn::Result<TokenStream> {
    let text = input.formula.value();
    // No declaration: the run-time default (those of S, N, D, C the formula uses).
    let vars = names(&input.vars).unwrap_or_default();
    let var_refs: Vec<&str> = vars.iter().map(String::as_str).collect();
    let checked = match names(&input.params) {
        Some(params) => {
            let p: Vec<&str> = params.iter().map(String::as_str).collect();
            Law::parse_declared(&text, &var_refs, &p)
        }
        None => Law::parse(&text, &var_refs),
    };
    if let Err(e) = checked {
        let msg = match &e {
            LawError::Parse(p) => format!(
                "law! formula does not parse at column {}: expected {}\n  {}\n  {}",
                p.column,
                p.expected,
                p.text,
                p.caret()
            ),
            other => format!("law! formula is invalid: {other}"),
        };
        // proc_macro2 cannot point inside a string literal on stable Rust, so the span is the
        // literal and the message carries the column and a caret.
        return Err(syn::Error::new_spanned(&input.formula, msg));
    }
    let formula = &input.formula;
    let build = match names(&input.params) {
        Some(params) => quote! {
            ::sparse_scaling::law::Law::parse_declared(#formula, &[#(#var_refs),*], &[#(#params),*])
        },
        None => quote! { ::sparse_scaling::law::Law::parse(#formula, &[#(#var_refs),*]) },
    };
    Ok(quote! {
        match #build {
            ::core::result::Result::Ok(law) => law,
            ::core::result::Result::Err(_) => ::core::unreachable!("law! checked this formula at compile time"),
        }
    })
}
