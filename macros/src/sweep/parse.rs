//! Grammar of `sweep!`, one `syn::Parse` per rule:
//!
//! ```text
//! SweepInput := Visibility "mod" Ident Body
//! Body       := "=" LitStr ";"?            (a .ron file, relative to CARGO_MANIFEST_DIR)
//!             | "{" RonFields "}"          (the fields of an experiment, RON syntax)
//! ```

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{braced, Ident, LitStr, Token, Visibility};

/// The whole input.
pub struct SweepInput {
    pub vis: Visibility,
    pub mod_token: Token![mod],
    pub name: Ident,
    pub body: Body,
}

/// Where the experiment comes from.
pub enum Body {
    /// `= "path/to/file.ron"`
    File(LitStr),
    /// `{ name: "..", model: (..), .. }`
    Inline(InlineRon),
}

/// Inline RON fields, rendered to text with a map from text offsets back to token spans.
pub struct InlineRon {
    /// `(` + the fields + `)`: a RON struct.
    pub text: String,
    /// (start, end) byte range of each rendered token and its span, in order.
    pub spans: Vec<(usize, usize, Span)>,
    /// The span of the braces, for errors that have no better place.
    pub whole: Span,
}

impl Parse for SweepInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(SweepInput { vis: input.parse()?, mod_token: input.parse()?, name: input.parse()?, body: input.parse()? })
    }
}

impl Parse for Body {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            let path: LitStr = input.parse()?;
            if input.peek(Token![;]) {
                input.parse::<Token![;]>()?;
            }
            Ok(Body::File(path))
        } else if input.peek(syn::token::Brace) {
            Ok(Body::Inline(input.parse()?))
        } else {
            Err(input.error("expected `= \"file.ron\"` or `{ <experiment fields> }` after the module name"))
        }
    }
}

impl Parse for InlineRon {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brace = braced!(content in input);
        let tokens: TokenStream = content.parse()?;
        let mut ron = InlineRon { text: String::from("("), spans: Vec::new(), whole: brace.span.join() };
        render(tokens, &mut ron);
        ron.text.push(')');
        Ok(ron)
    }
}

/// Renders tokens as RON text on one line, recording where each token went.
fn render(tokens: TokenStream, out: &mut InlineRon) {
    let mut glue = false; // previous token was a joint punctuation or a unary minus
    for tt in tokens {
        if !glue && !out.text.ends_with('(') && !out.text.ends_with('[') {
            out.text.push(' ');
        }
        glue = false;
        match tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                push(out, open, g.span_open());
                render(g.stream(), out);
                push(out, close, g.span_close());
            }
            TokenTree::Punct(p) => {
                push(out, &p.as_char().to_string(), p.span());
                glue = p.spacing() == Spacing::Joint || p.as_char() == '-';
            }
            TokenTree::Ident(i) => push(out, &i.to_string(), i.span()),
            TokenTree::Literal(l) => push(out, &l.to_string(), l.span()),
        }
    }
}

fn push(out: &mut InlineRon, s: &str, span: Span) {
    let start = out.text.len();
    out.text.push_str(s);
    out.spans.push((start, out.text.len(), span));
}

impl InlineRon {
    /// The span of the token at 1-based character `column` of the one-line text.
    pub fn span_at(&self, column: usize) -> Span {
        let offset = self.text.char_indices().nth(column.saturating_sub(1)).map_or(self.text.len(), |(i, _)| i);
        self.spans
            .iter()
            .find(|(s, e, _)| offset >= *s && offset < *e)
            .or_else(|| self.spans.iter().find(|(s, _, _)| *s >= offset))
            .or(self.spans.last())
            .map_or(self.whole, |(_, _, sp)| *sp)
    }
}
