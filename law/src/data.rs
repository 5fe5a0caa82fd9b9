//! Observations to fit: variable columns (S, N, D, …), the measured loss, optional weights;
//! validated, and loaded from CSV with each variable given as an expression over the CSV's
//! columns (docs/THEORY.md §2: for the T5 table, N = 24·(12·768²)·scale·(1 − S) / 1e6,
//! D = steps / 1e5, S = sparsity, loss = val-loss).
//!
//! CSV column names that are not plain identifiers (like `val-loss`) are written in backticks
//! in expressions (`` `val-loss` ``), or by their alias: every character other than a letter,
//! digit or `_` replaced by `_` (`val_loss`), when that alias is not itself a column. An empty
//! header (pandas' index column) is called `index`. [`CsvMapping::rename`] adds names of your own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::compile::{Input, Tape};
use crate::expr::{is_plain_identifier, parse, ParseError};

/// Errors in observations or in loading them. Rows are 1-based data rows (the CSV header
/// is not counted).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// The CSV is malformed (e.g. a row with a different number of fields than the header).
    #[error("{source_name}: malformed CSV at data row {row}: {message}; every row needs one value per header column")]
    Csv {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// The csv crate's message.
        message: String,
    },
    /// A row has a different length than the others.
    #[error("{source_name}: ragged data: row {row} has {found} fields but the header has {expected}")]
    Ragged {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// Fields expected.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// No data rows.
    #[error("{source_name}: no data rows; a fit needs at least one observation (better: more than the number of parameters)")]
    Empty {
        /// File name or "<input>".
        source_name: String,
    },
    /// A CSV cell is not a number.
    #[error("{source_name}: row {row}, column `{column}`: `{text}` is not a number")]
    NotANumber {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// Column name.
        column: String,
        /// The cell.
        text: String,
    },
    /// A mapping expression names a column the CSV does not have.
    #[error("{source_name}: the expression for `{target}` uses column `{column}`, which is not in the file (columns: {available}); quote names with backticks, e.g. `val-loss`")]
    UnknownColumn {
        /// File name or "<input>".
        source_name: String,
        /// The variable being computed.
        target: String,
        /// The missing column.
        column: String,
        /// Comma-separated available names.
        available: String,
    },
    /// A column to read as text labels (to group parameters by) is not in the file.
    #[error("{source_name}: the law indexes parameters by the column `{column}` (e.g. `a[{column}]`), which is not in the file (columns: {available}); index by one of the file's columns, or add `{column}`")]
    UnknownGroupColumn {
        /// File name or "<input>".
        source_name: String,
        /// The missing column.
        column: String,
        /// Comma-separated available names.
        available: String,
    },
    /// A mapping expression does not parse.
    #[error("the expression for `{target}` does not parse: {error}")]
    BadExpression {
        /// The variable being computed.
        target: String,
        /// The parse error (with column).
        error: ParseError,
    },
    /// A value is NaN or infinite.
    #[error("{source_name}: row {row}, `{column}` is {value}; every value must be a finite number")]
    NotFinite {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// Column (variable, `loss` or `weight`).
        column: String,
        /// The value.
        value: f64,
    },
    /// A loss is zero or negative (log residuals and the laws need a positive loss).
    #[error("{source_name}: row {row}, loss is {value}; losses must be positive")]
    NonPositiveLoss {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// The value.
        value: f64,
    },
    /// A sparsity outside [0, 1).
    #[error("{source_name}: row {row}, sparsity S = {value} is outside [0, 1); S is the fraction of zero weights and S = 1 leaves no model")]
    SparsityOutOfRange {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// The value.
        value: f64,
    },
    /// A weight is negative, or all are zero.
    #[error("{source_name}: row {row}, weight {value} is invalid; weights must be >= 0 and not all 0")]
    BadWeight {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row (0: all weights are zero).
        row: usize,
        /// The value.
        value: f64,
    },
    /// Columns of different lengths.
    #[error("column `{column}` has {found} values but the loss has {expected}")]
    LengthMismatch {
        /// Column name.
        column: String,
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// A text column has an empty label.
    #[error("{source_name}: row {row}, text column `{column}` is empty; every point needs a label to be grouped by `{column}` (fill it in, or drop the row)")]
    EmptyLabel {
        /// File name or "<input>".
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// The column.
        column: String,
    },
    /// Variable names and columns do not match, or a name repeats.
    #[error("bad variable list: {message}")]
    BadVariables {
        /// What is wrong.
        message: String,
    },
}

/// A column of text labels (a pruning method, a model family), by which a law's parameters
/// can be grouped (`a[method]`, docs/THEORY.md §2.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Categorical {
    /// The column's name.
    pub name: String,
    /// One label per point.
    pub values: Vec<String>,
}

/// Measured points: one column per variable, the loss, optional weights and optional
/// categorical (text) columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// Variable names, e.g. `["S", "N", "D"]`.
    pub var_names: Vec<String>,
    /// One column per variable, each with one value per point.
    pub columns: Vec<Vec<f64>>,
    /// Measured loss per point.
    pub loss: Vec<f64>,
    /// Optional non-negative weight per point.
    pub weights: Option<Vec<f64>>,
    /// Text columns (one label per point), by which parameters can be grouped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<Categorical>,
}

const INPUT: &str = "<input>";

impl Observations {
    /// Builds and validates observations.
    ///
    /// ```
    /// use sparse_scaling_law::Observations;
    /// let obs = Observations::new(vec!["S".into(), "N".into()], vec![vec![0.5, 1.0], vec![1.0, 2.0]], vec![3.0, 2.5], None);
    /// assert!(obs.is_err()); // S = 1.0 in row 2
    /// ```
    pub fn new(
        var_names: Vec<String>,
        columns: Vec<Vec<f64>>,
        loss: Vec<f64>,
        weights: Option<Vec<f64>>,
    ) -> Result<Observations, DataError> {
        let obs = Observations { var_names, columns, loss, weights, categorical: Vec::new() };
        obs.validate_in(INPUT)?;
        Ok(obs)
    }

    /// Adds a text column (one label per point), e.g. the pruning method of each run.
    ///
    /// ```
    /// use sparse_scaling_law::Observations;
    /// let obs = Observations::new(vec!["N".into()], vec![vec![1.0, 2.0]], vec![3.0, 2.5], None).unwrap();
    /// let obs = obs.with_categorical("method", vec!["gmp".into(), "2:4".into()]).unwrap();
    /// assert_eq!(obs.categorical("method").unwrap(), ["gmp", "2:4"]);
    /// ```
    pub fn with_categorical(mut self, name: &str, values: Vec<String>) -> Result<Observations, DataError> {
        self.categorical.retain(|c| c.name != name);
        self.categorical.push(Categorical { name: name.to_string(), values });
        self.validate_in(INPUT)?;
        Ok(self)
    }

    /// The labels of a text column.
    pub fn categorical(&self, name: &str) -> Option<&[String]> {
        self.categorical.iter().find(|c| c.name == name).map(|c| c.values.as_slice())
    }

    /// Checks lengths, finiteness, positive loss, `0 <= S < 1` for a variable named `S`,
    /// and weights.
    pub fn validate(&self) -> Result<(), DataError> {
        self.validate_in(INPUT)
    }

    fn validate_in(&self, source_name: &str) -> Result<(), DataError> {
        let src = || source_name.to_string();
        if self.var_names.len() != self.columns.len() {
            return Err(DataError::BadVariables {
                message: format!("{} names for {} columns", self.var_names.len(), self.columns.len()),
            });
        }
        for (i, v) in self.var_names.iter().enumerate() {
            if self.var_names[..i].contains(v) {
                return Err(DataError::BadVariables { message: format!("`{v}` appears twice") });
            }
        }
        let n = self.loss.len();
        if n == 0 {
            return Err(DataError::Empty { source_name: src() });
        }
        for (name, col) in self.var_names.iter().zip(&self.columns) {
            if col.len() != n {
                return Err(DataError::LengthMismatch { column: name.clone(), expected: n, found: col.len() });
            }
            for (i, &v) in col.iter().enumerate() {
                if !v.is_finite() {
                    return Err(DataError::NotFinite {
                        source_name: src(),
                        row: i + 1,
                        column: name.clone(),
                        value: v,
                    });
                }
                if name == "S" && !(0.0..1.0).contains(&v) {
                    return Err(DataError::SparsityOutOfRange { source_name: src(), row: i + 1, value: v });
                }
            }
        }
        for (i, &v) in self.loss.iter().enumerate() {
            if !v.is_finite() {
                return Err(DataError::NotFinite { source_name: src(), row: i + 1, column: "loss".into(), value: v });
            }
            if v <= 0.0 {
                return Err(DataError::NonPositiveLoss { source_name: src(), row: i + 1, value: v });
            }
        }
        for (k, c) in self.categorical.iter().enumerate() {
            if self.categorical[..k].iter().any(|o| o.name == c.name) {
                return Err(DataError::BadVariables { message: format!("text column `{}` appears twice", c.name) });
            }
            if c.values.len() != n {
                return Err(DataError::LengthMismatch { column: c.name.clone(), expected: n, found: c.values.len() });
            }
            if let Some(row) = c.values.iter().position(|v| v.trim().is_empty()) {
                return Err(DataError::EmptyLabel { source_name: src(), row: row + 1, column: c.name.clone() });
            }
        }
        if let Some(w) = &self.weights {
            if w.len() != n {
                return Err(DataError::LengthMismatch { column: "weight".into(), expected: n, found: w.len() });
            }
            for (i, &v) in w.iter().enumerate() {
                if !v.is_finite() || v < 0.0 {
                    return Err(DataError::BadWeight { source_name: src(), row: i + 1, value: v });
                }
            }
            if w.iter().all(|v| *v == 0.0) {
                return Err(DataError::BadWeight { source_name: src(), row: 0, value: 0.0 });
            }
        }
        Ok(())
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.loss.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.loss.is_empty()
    }

    /// The column of a variable.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.var_names.iter().position(|v| v == name).map(|i| self.columns[i].as_slice())
    }

    /// The points at `rows` (repeats allowed; used by the bootstrap).
    pub fn select(&self, rows: &[usize]) -> Observations {
        Observations {
            var_names: self.var_names.clone(),
            columns: self.columns.iter().map(|c| rows.iter().map(|&r| c[r]).collect()).collect(),
            loss: rows.iter().map(|&r| self.loss[r]).collect(),
            weights: self.weights.as_ref().map(|w| rows.iter().map(|&r| w[r]).collect()),
            categorical: self
                .categorical
                .iter()
                .map(|c| Categorical {
                    name: c.name.clone(),
                    values: rows.iter().map(|&r| c.values[r].clone()).collect(),
                })
                .collect(),
        }
    }

    /// Loads a CSV file (see [`CsvMapping`]).
    pub fn from_csv_path(path: impl AsRef<Path>, mapping: &CsvMapping) -> Result<Observations, DataError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| DataError::Io { path: path.display().to_string(), message: e.to_string() })?;
        Self::from_csv_str(&text, &path.display().to_string(), mapping)
    }

    /// Loads CSV text; `source_name` names it in errors.
    ///
    /// ```
    /// use sparse_scaling_law::{data::CsvMapping, Observations};
    /// let csv = "sparsity,scale,val-loss,steps\n0.5,1,2.0,250000\n0,2,1.9,500000\n";
    /// let obs = Observations::from_csv_str(csv, "t5.csv", &CsvMapping::t5_paper()).unwrap();
    /// assert_eq!(obs.var_names, ["S", "N", "D"]);
    /// assert_eq!(obs.column("D").unwrap(), [2.5, 5.0]);
    /// assert_eq!(obs.loss, [2.0, 1.9]);
    /// ```
    pub fn from_csv_str(text: &str, source_name: &str, mapping: &CsvMapping) -> Result<Observations, DataError> {
        let src = || source_name.to_string();
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| DataError::Csv { source_name: src(), row: 0, message: e.to_string() })?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut raw: Vec<Vec<f64>> = vec![Vec::new(); headers.len()];
        let names = column_names(&headers, &mapping.rename);
        let mut text_cols: Vec<(String, usize, Vec<String>)> = Vec::new();
        for name in &mapping.categorical {
            let bare = name.trim_matches('`');
            match names.iter().find(|(n, _)| n == bare) {
                Some((_, c)) => text_cols.push((bare.to_string(), *c, Vec::new())),
                None => {
                    return Err(DataError::UnknownGroupColumn {
                        source_name: src(),
                        column: bare.to_string(),
                        available: names.iter().map(|(n, _)| display_name(n)).collect::<Vec<_>>().join(", "),
                    })
                }
            }
        }
        for (r, rec) in reader.records().enumerate() {
            let row = r + 1;
            let rec = rec.map_err(|e| DataError::Csv { source_name: src(), row, message: e.to_string() })?;
            if rec.len() != headers.len() {
                if rec.len() == 1 && rec.get(0).map(|s| s.trim().is_empty()).unwrap_or(true) {
                    continue; // blank line
                }
                return Err(DataError::Ragged { source_name: src(), row, expected: headers.len(), found: rec.len() });
            }
            for (_, c, values) in &mut text_cols {
                values.push(rec.get(*c).unwrap_or("").trim().to_string());
            }
            for (c, cell) in rec.iter().enumerate() {
                let cell = cell.trim();
                let v = cell.parse::<f64>().map_err(|_| DataError::NotANumber {
                    source_name: src(),
                    row,
                    column: headers[c].clone(),
                    text: cell.to_string(),
                });
                // Only columns that mappings use must be numeric; keep NaN as a marker.
                match v {
                    Ok(v) => raw[c].push(v),
                    Err(e) if mapping.uses_column(&headers[c], &headers) => return Err(e),
                    Err(_) => raw[c].push(f64::NAN),
                }
            }
        }
        let n = raw.first().map(|c| c.len()).unwrap_or(0);
        if n == 0 {
            return Err(DataError::Empty { source_name: src() });
        }
        let eval = |target: &str, text: &str| -> Result<Vec<f64>, DataError> {
            let expr = parse(text).map_err(|error| DataError::BadExpression { target: target.to_string(), error })?;
            for s in expr.symbols() {
                if !names.iter().any(|(n, _)| *n == s) {
                    return Err(DataError::UnknownColumn {
                        source_name: src(),
                        target: target.to_string(),
                        column: s,
                        available: names.iter().map(|(n, _)| display_name(n)).collect::<Vec<_>>().join(", "),
                    });
                }
            }
            let input_names: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
            let tape = Tape::compile(&expr, &input_names).map_err(|_| DataError::UnknownColumn {
                source_name: src(),
                target: target.to_string(),
                column: text.to_string(),
                available: input_names.join(", "),
            })?;
            let inputs: Vec<Input<'_>> = names.iter().map(|(_, c)| Input::Column(&raw[*c])).collect();
            let vals = tape.eval(&inputs, n).map_err(|e| DataError::BadVariables { message: e.to_string() })?;
            Ok(vals)
        };
        let mut var_names = Vec::new();
        let mut columns = Vec::new();
        for (var, text) in &mapping.vars {
            var_names.push(var.clone());
            columns.push(eval(var, text)?);
        }
        let loss = eval("loss", &mapping.loss)?;
        let weights = match &mapping.weight {
            Some(w) => Some(eval("weight", w)?),
            None => None,
        };
        let categorical = text_cols.into_iter().map(|(name, _, values)| Categorical { name, values }).collect();
        let obs = Observations { var_names, columns, loss, weights, categorical };
        obs.validate_in(source_name)?;
        Ok(obs)
    }
}

fn display_name(n: &str) -> String {
    if is_plain_identifier(n) {
        n.to_string()
    } else {
        format!("`{n}`")
    }
}

/// Names under which CSV columns can be referred to: the header itself, its alias, and
/// renames; each with the column index.
fn column_names(headers: &[String], rename: &BTreeMap<String, String>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty() {
            out.push((h.clone(), i));
        }
    }
    for (i, h) in headers.iter().enumerate() {
        let alias = if h.is_empty() {
            "index".to_string()
        } else {
            let mut a: String =
                h.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            if a.starts_with(|c: char| c.is_ascii_digit()) {
                a.insert(0, '_');
            }
            a
        };
        if !out.iter().any(|(n, _)| *n == alias) {
            out.push((alias, i));
        }
    }
    for (new, old) in rename {
        if let Some(i) = headers.iter().position(|h| h == old) {
            out.retain(|(n, _)| n != new);
            out.push((new.clone(), i));
        }
    }
    out
}

/// How to turn CSV columns into observations: each variable, the loss and (optionally) a
/// weight as an expression over column names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// `(variable, expression)` in order, e.g. `("D", "steps/1e5")`.
    pub vars: Vec<(String, String)>,
    /// Expression for the loss, e.g. `` `val-loss` ``.
    pub loss: String,
    /// Optional expression for per-point weights.
    #[serde(default)]
    pub weight: Option<String>,
    /// Extra names for columns: new name → CSV header.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Columns read as text labels ([`Observations::categorical`]), by which a law's parameters
    /// can be grouped (`a[method]`); any column can be one, numbers are read as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<String>,
}

impl CsvMapping {
    /// Columns named like the variables, and a `loss` column.
    pub fn identity(vars: &[&str]) -> CsvMapping {
        CsvMapping {
            vars: vars.iter().map(|v| (v.to_string(), v.to_string())).collect(),
            loss: "loss".into(),
            weight: None,
            rename: BTreeMap::new(),
            categorical: Vec::new(),
        }
    }

    /// The authors' T5 table (`data/t5-data.csv`, docs/THEORY.md §2), normalised as in their code:
    /// S = sparsity, N = 24·(12·768²)·scale·(1 − S)/1e6, D = steps/1e5, loss = val-loss.
    pub fn t5_paper() -> CsvMapping {
        CsvMapping {
            vars: vec![
                ("S".into(), "sparsity".into()),
                ("N".into(), "24*(12*768^2)*scale*(1-sparsity)/1e6".into()),
                ("D".into(), "steps/1e5".into()),
            ],
            loss: "`val-loss`".into(),
            weight: None,
            rename: BTreeMap::new(),
            categorical: Vec::new(),
        }
    }

    /// Builds a mapping from `VAR=EXPR` strings (as on a command line).
    pub fn from_assignments(vars: &[&str], loss: &str) -> Result<CsvMapping, DataError> {
        let mut out = Vec::new();
        for a in vars {
            let (v, e) = a.split_once('=').ok_or_else(|| DataError::BadVariables {
                message: format!("`{a}` is not of the form VAR=EXPRESSION (e.g. D=steps/1e5)"),
            })?;
            out.push((v.trim().to_string(), e.trim().to_string()));
        }
        Ok(CsvMapping {
            vars: out,
            loss: loss.to_string(),
            weight: None,
            rename: BTreeMap::new(),
            categorical: Vec::new(),
        })
    }

    fn uses_column(&self, header: &str, headers: &[String]) -> bool {
        let names = column_names(headers, &self.rename);
        let idx = headers.iter().position(|h| h == header);
        let texts =
            self.vars.iter().map(|(_, e)| e.as_str()).chain(Some(self.loss.as_str())).chain(self.weight.as_deref());
        for t in texts {
            if let Ok(e) = parse(t) {
                for s in e.symbols() {
                    if names.iter().any(|(n, i)| *n == s && Some(*i) == idx) {
                        return true;
                    }
                }
            }
        }
        false
    }
}
