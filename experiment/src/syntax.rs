//! Syntax errors of `.ron` text: turns what the RON parser reports into a position a reader can
//! use (line and column in characters), a message that says what is wrong and a fix.
//!
//! The parser's own words are often about the token after the mistake: `100.5` where a whole
//! number is expected and a string whose closing `"` is missing both end in "Expected comma",
//! and an unclosed `/*` is reported at the end of the file. A small scanner over the text
//! ([`regions`]) finds strings and comments, so that these errors can be reported where the
//! mistake is. A UTF-8 byte-order mark is skipped ([`strip_bom`]); a file that is not UTF-8 is
//! reported with the offending byte ([`decode`]). Misspelt enum variants and fields get the
//! nearest valid name ([`did_you_mean`]).

use std::path::Path;

use crate::error::ExperimentError;

/// The UTF-8 byte-order mark some editors write at the start of a file.
const BOM: char = '\u{feff}';

/// `source` without a leading byte-order mark (RON has no use for one; it is skipped silently).
pub(crate) fn strip_bom(source: &str) -> &str {
    source.strip_prefix(BOM).unwrap_or(source)
}

/// The text of a file's bytes, or [`ExperimentError::NotUtf8`] naming the first byte that is not
/// UTF-8 and its line and column.
pub(crate) fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, ExperimentError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // The prefix is valid UTF-8 by definition of `valid_up_to`.
        let prefix = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let (line, column) = line_column(prefix, prefix.len());
        ExperimentError::NotUtf8 { path: path.to_path_buf(), byte: at, value: bytes[at], line, column }
    })
}

/// 1-based line and character column of byte `offset` of `src` (clamped to the text).
pub(crate) fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Byte offset of the RON parser's position (1-based line, 1-based column counted in bytes).
fn offset_of(src: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match src[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return src.len(),
        }
    }
    (start + col.saturating_sub(1)).min(src.len())
}

/// What kind of stretch of text a [`Region`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegionKind {
    /// A string literal (`"…"`, `r#"…"#`).
    Str,
    /// A block comment (`/* … */`, nested as in RON).
    Comment,
}

/// A string or block comment: byte offsets of its first character and of the end of its
/// closing delimiter (`None` when it is never closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    pub kind: RegionKind,
    pub start: usize,
    pub end: Option<usize>,
}

/// Strings and block comments of `src`, in order, scanned as the RON parser reads them (line
/// comments, character literals and escapes skipped).
pub(crate) fn regions(src: &str) -> Vec<Region> {
    let b = src.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                i += 2;
                let mut depth = 1;
                while i < n && depth > 0 {
                    if b[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                    } else if b[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                out.push(Region { kind: RegionKind::Comment, start, end: (depth == 0).then_some(i) });
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < n && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i < n).then_some(i + 1);
                out.push(Region { kind: RegionKind::Str, start, end });
                i += 1;
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#')) && (i == 0 || !is_ident_byte(b[i - 1])) => {
                let start = i;
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let open = i + 1 + hashes;
                if b.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let mut close = Vec::with_capacity(hashes + 1);
                close.push(b'"');
                close.extend(std::iter::repeat(b'#').take(hashes));
                let body = open + 1;
                let end =
                    b[body..].windows(close.len()).position(|w| w == close.as_slice()).map(|p| body + p + close.len());
                out.push(Region { kind: RegionKind::Str, start, end });
                i = end.unwrap_or(n);
            }
            b'\'' => {
                // a character literal: 'a', '\n', '\''
                i += 1;
                if b.get(i) == Some(&b'\\') {
                    i += 1;
                }
                i += 1;
                while i < n && b[i] != b'\'' && b[i] != b'\n' {
                    i += 1;
                }
                i += 1;
            }
            c if is_ident_byte(c) => {
                while i < n && is_ident_byte(b[i]) {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The name among `candidates` nearest to `found` (case ignored), if one is near enough to be
/// a plausible misspelling: at most one edit in three characters (at least one edit).
pub(crate) fn did_you_mean<'a>(found: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let f = found.to_lowercase();
    candidates
        .iter()
        .map(|&c| (strsim::damerau_levenshtein(&f, &c.to_lowercase()), c))
        .filter(|&(d, c)| d <= (c.chars().count().max(f.chars().count()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// The syntax error for RON's error `e` on `source` (the text the parser saw).
pub(crate) fn syntax_error(path: &Path, source: &str, e: &ron::error::SpannedError) -> ExperimentError {
    let at = offset_of(source, e.position.line, e.position.col);
    let (line, column) = line_column(source, at);
    let plain =
        |message: String, fix: String| ExperimentError::Syntax { path: path.to_path_buf(), line, column, message, fix };
    let placed = |offset: usize, message: String, fix: String| {
        let (line, column) = line_column(source, offset);
        ExperimentError::Syntax { path: path.to_path_buf(), line, column, message, fix }
    };
    let regions = regions(source);
    use ron::Error as E;
    match &e.code {
        E::UnclosedBlockComment => {
            if let Some(r) = regions.iter().find(|r| r.kind == RegionKind::Comment && r.end.is_none()) {
                return placed(
                    r.start,
                    "this `/*` comment is never closed, so the rest of the file is part of it".into(),
                    "close the comment with `*/` (block comments nest: every `/*` inside needs its own `*/`)".into(),
                );
            }
        }
        E::ExpectedStringEnd => {
            if let Some(r) = regions.iter().rev().find(|r| r.kind == RegionKind::Str && r.end.is_none()) {
                return placed(
                    r.start,
                    "this string is never closed: its closing `\"` is missing".into(),
                    "add the closing `\"` where the text should end".into(),
                );
            }
        }
        E::NoSuchEnumVariant { expected, found, outer } => {
            let what = outer.as_ref().map_or("value".to_string(), |o| format!("`{o}`"));
            let list = expected.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ");
            let message = format!("`{found}` is not a {what} (the choices are {list})");
            let fix = match did_you_mean(found, expected) {
                Some(m) => format!("did you mean `{m}`? Replace `{found}` by `{m}`"),
                None => format!("replace `{found}` by one of {list}"),
            };
            return placed(name_before(source, at, found), message, fix);
        }
        E::NoSuchStructField { expected, found, outer } => {
            let fix = crate::error::hint(&e.code);
            let fix = match did_you_mean(found, expected) {
                Some(m) => format!("did you mean `{m}`? Otherwise {fix}"),
                None => fix,
            };
            let message = match outer {
                Some(o) => format!("`{o}` has no field `{found}`"),
                None => format!("there is no field `{found}`"),
            };
            return placed(name_before(source, at, found), message, fix);
        }
        E::ExpectedInteger => {
            if let Some(err) = decimal_for_integer(path, source, at) {
                return err;
            }
        }
        E::ExpectedComma | E::ExpectedArrayEnd | E::ExpectedStructLikeEnd | E::TrailingCharacters => {
            if let Some(err) = decimal_for_integer(path, source, at) {
                return err;
            }
            if let Some(r) = runaway_string(source, &regions, at) {
                return placed(
                    r.start,
                    format!(
                        "this string runs on to line {} (where the parser then stopped: {}); its closing `\"` is probably missing",
                        line, e.code
                    ),
                    "close the string with `\"` on the line where it starts".into(),
                );
            }
        }
        _ => {}
    }
    plain(e.code.to_string(), crate::error::hint(&e.code))
}

/// Where the name `name` starts, when the parser stopped just after it (at byte `at`, perhaps
/// past spaces and a `:`); else `at`.
fn name_before(source: &str, at: usize, name: &str) -> usize {
    let Some(before) = source.get(..at) else { return at };
    let before = before.trim_end().trim_end_matches(':').trim_end();
    if name.is_empty() || !before.ends_with(name) {
        return at;
    }
    before.len() - name.len()
}

/// A number with a fraction or exponent (`100.5`, `1e3`) where the parser wanted a whole
/// number: it stops inside the number (at the `.` or `e`) or just after it, at byte `at`.
fn decimal_for_integer(path: &Path, source: &str, at: usize) -> Option<ExperimentError> {
    if at > source.len() || !source.is_char_boundary(at) {
        return None;
    }
    let in_number = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+');
    let start = source[..at].rfind(|c: char| !in_number(c)).map_or(0, |i| i + 1);
    let end = at + source[at..].find(|c: char| !in_number(c)).unwrap_or(source.len() - at);
    let number = &source[start..end];
    if !number.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        || !number.contains(['.', 'e', 'E'])
        || number.parse::<f64>().is_err()
    {
        return None;
    }
    let field = field_before(source, start);
    let (line, column) = line_column(source, start);
    let whole = number.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0).map(f64::trunc);
    Some(ExperimentError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message: match &field {
            Some(f) => format!("`{number}` is not a whole number, but `{f}` takes only whole numbers"),
            None => format!("`{number}` is not a whole number, but a whole number is expected here"),
        },
        fix: match whole {
            Some(w) if w < 1e18 => {
                format!("write a whole number without a decimal point or exponent, e.g. `{}`", w as u64)
            }
            _ => "write a whole number without a decimal point or exponent".into(),
        },
    })
}

/// The name of the field whose value contains byte `at`: the identifier before the nearest `:`
/// before it, outside strings and comments.
fn field_before(source: &str, at: usize) -> Option<String> {
    let regions = regions(&source[..at]);
    let inside = |i: usize| regions.iter().any(|r| i >= r.start && r.end.map_or(true, |e| i < e));
    let b = source.as_bytes();
    let colon = (0..at).rev().find(|&i| b[i] == b':' && !inside(i))?;
    let name_end = source[..colon].trim_end().len();
    let name_start = source[..name_end].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    let name = &source[name_start..name_end];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then(|| name.to_string())
}

/// A string that spans lines and closes on the line of the error, before it: what an
/// unterminated string looks like once its text has run into the next string's opening quote.
fn runaway_string(source: &str, regions: &[Region], at: usize) -> Option<Region> {
    let line_start = source[..at.min(source.len())].rfind('\n').map_or(0, |i| i + 1);
    regions.iter().copied().find(|r| {
        r.kind == RegionKind::Str
            && r.end.is_some_and(|end| end > line_start && end <= at)
            && r.start < line_start
            && source[r.start..line_start].contains('\n')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_find_strings_and_comments() {
        let src = "(a: \"x\\\"y\", /* c /* d */ */ b: r#\"q\"#, c: 'x', // \"no\"\n d: \"open";
        let r = regions(src);
        let kinds: Vec<_> = r.iter().map(|r| (r.kind, r.end.is_some())).collect();
        assert_eq!(
            kinds,
            [(RegionKind::Str, true), (RegionKind::Comment, true), (RegionKind::Str, true), (RegionKind::Str, false)],
            "{r:?}"
        );
        assert_eq!(&src[r[0].start..r[0].end.unwrap()], "\"x\\\"y\"");
        assert_eq!(&src[r[1].start..r[1].end.unwrap()], "/* c /* d */ */");
        assert_eq!(&src[r[2].start..r[2].end.unwrap()], "r#\"q\"#");
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\n×c", 5), (2, 2), "`c` is the second character of line 2");
        assert_eq!(line_column("ab", 0), (1, 1));
    }

    #[test]
    fn near_names_only() {
        assert_eq!(did_you_mean("Vitt", &["Vit", "T5", "Decoder"]), Some("Vit"));
        assert_eq!(did_you_mean("Gpm", &["Gmp", "NM", "FromDense"]), Some("Gmp"));
        assert_eq!(did_you_mean("nm", &["Gmp", "NM", "FromDense"]), Some("NM"));
        assert_eq!(did_you_mean("Bert", &["Vit", "T5", "Decoder"]), None);
    }
}
