//! Positions of fields in a `.ron` source, so that validation errors (which happen after
//! deserialisation, when serde's positions are gone) can still name a line and column.
//!
//! A small scanner walks the text (skipping comments, strings and chars), keeps a stack of
//! open `(`, `[` and `{`, and records where each field path starts: `model.sizes`,
//! `sparsity[2]`, `pruning[1].m`. Named structs and enum variants (`Gmp(…)`, `Widths([…])`)
//! keep the path of the value they stand for, so `model.sizes[0]` is the first width of
//! `sizes: Widths([32, 64])`.

use std::collections::HashMap;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column (in characters), from 1.
    pub column: usize,
}

/// Field path → position of the value's first token (or of the field name).
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    map: HashMap<String, Pos>,
}

#[derive(Debug)]
enum Frame {
    Paren { base: String, field: Option<String> },
    List { base: String, index: usize, expect: bool },
    Map { base: String },
}

impl SpanIndex {
    /// Index `src`. Never fails: on malformed input it indexes what it can.
    pub fn build(src: &str) -> SpanIndex {
        let chars: Vec<char> = src.chars().collect();
        let mut pos = Vec::with_capacity(chars.len() + 1);
        let (mut line, mut col) = (1usize, 1usize);
        for &c in &chars {
            pos.push(Pos { line, column: col });
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        pos.push(Pos { line, column: col });

        let mut map = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut i = 0;
        let n = chars.len();
        // The path of the value that starts at the current token in the current frame.
        fn value_path(stack: &[Frame]) -> String {
            match stack.last() {
                None => String::new(),
                Some(Frame::Paren { base, field: Some(f) }) => join(base, f),
                Some(Frame::Paren { base, field: None }) => base.clone(),
                Some(Frame::List { base, index, .. }) => format!("{base}[{index}]"),
                Some(Frame::Map { base }) => base.clone(),
            }
        }
        fn join(base: &str, f: &str) -> String {
            if base.is_empty() {
                f.to_string()
            } else {
                format!("{base}.{f}")
            }
        }
        while i < n {
            let c = chars[i];
            // whitespace and comments
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            if c == '/' && i + 1 < n && chars[i + 1] == '/' {
                while i < n && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            if c == '/' && i + 1 < n && chars[i + 1] == '*' {
                i += 2;
                let mut depth = 1;
                while i < n && depth > 0 {
                    if chars[i] == '*' && i + 1 < n && chars[i + 1] == '/' {
                        depth -= 1;
                        i += 2;
                    } else if chars[i] == '/' && i + 1 < n && chars[i + 1] == '*' {
                        depth += 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            // a list element starts at any token other than `]` and `,`
            if let Some(Frame::List { expect, .. }) = stack.last() {
                if *expect && c != ']' && c != ',' {
                    let p = value_path(&stack);
                    map.entry(p).or_insert(pos[i]);
                    if let Some(Frame::List { expect, .. }) = stack.last_mut() {
                        *expect = false;
                    }
                }
            }
            match c {
                '(' | '[' | '{' => {
                    let base = value_path(&stack);
                    if stack.is_empty() {
                        map.entry(String::new()).or_insert(pos[i]);
                    }
                    stack.push(match c {
                        '(' => Frame::Paren { base, field: None },
                        '[' => Frame::List { base, index: 0, expect: true },
                        _ => Frame::Map { base },
                    });
                    i += 1;
                }
                ')' | ']' | '}' => {
                    stack.pop();
                    i += 1;
                }
                ',' => {
                    match stack.last_mut() {
                        Some(Frame::List { index, expect, .. }) => {
                            *index += 1;
                            *expect = true;
                        }
                        Some(Frame::Paren { field, .. }) => *field = None,
                        _ => {}
                    }
                    i += 1;
                }
                '"' => {
                    i += 1;
                    while i < n && chars[i] != '"' {
                        if chars[i] == '\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                }
                '\'' => {
                    i += 1;
                    while i < n && chars[i] != '\'' {
                        if chars[i] == '\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                }
                c if c.is_alphabetic() || c == '_' => {
                    let start = i;
                    while i < n && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    let ident: String = chars[start..i].iter().collect();
                    let mut j = i;
                    while j < n && chars[j].is_whitespace() {
                        j += 1;
                    }
                    let is_field = j < n && chars[j] == ':';
                    if is_field {
                        if let Some(Frame::Paren { base, field }) = stack.last_mut() {
                            let p = join(base, &ident);
                            map.entry(p).or_insert(pos[start]);
                            *field = Some(ident);
                        }
                        i = j + 1;
                    }
                }
                _ => {
                    i += 1;
                }
            }
        }
        SpanIndex { map }
    }

    /// Position of `path`, or of its nearest recorded ancestor (`a.b[2].c` → `a.b[2]` →
    /// `a.b` → `a` → the start of the file).
    pub fn find(&self, path: &str) -> Pos {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.map.get(&p) {
                return *pos;
            }
            if p.is_empty() {
                return Pos { line: 1, column: 1 };
            }
            let cut = p.rfind(['.', '[']).unwrap_or(0);
            p.truncate(cut);
        }
    }

    /// Exact lookup.
    pub fn get(&self, path: &str) -> Option<Pos> {
        self.map.get(path).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_fields_and_elements() {
        let src = "(\n  name: \"x\", // c: d\n  model: (family: Vit, sizes: Widths([32, 64])),\n  sparsity: [0.0,\n    1.0],\n  pruning: [Gmp(), NM(n: 2, m: 4)],\n)";
        let ix = SpanIndex::build(src);
        assert_eq!(ix.get("name"), Some(Pos { line: 2, column: 3 }));
        assert_eq!(ix.get("sparsity[1]"), Some(Pos { line: 5, column: 5 }));
        assert_eq!(ix.get("model.sizes[1]"), Some(Pos { line: 3, column: 43 }));
        assert_eq!(ix.get("pruning[1].m"), Some(Pos { line: 6, column: 29 }));
        assert!(ix.get("d").is_none(), "comments are skipped");
        assert_eq!(ix.find("pruning[1].gradual"), Pos { line: 6, column: 20 });
    }
}
