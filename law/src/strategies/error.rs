//! What can be wrong with the ranges, design or noise handed to the strategies
//! ([`StrategyError`]); found when the strategy is built, before any case is drawn.

use crate::data::DataError;

/// A strategy that cannot be built from what it was given. Every message says how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// A parameter of the law has no range.
    #[error("parameter `{name}` of law `{law}` has no range; give one for each of {params}")]
    MissingRange {
        /// The parameter.
        name: String,
        /// The law's formula.
        law: String,
        /// Comma-separated parameters of the law.
        params: String,
    },
    /// A range names no parameter of the law.
    #[error(
        "`{name}` is not a parameter of law `{law}` (its parameters: {params}); remove its range or fix its spelling"
    )]
    UnknownParam {
        /// The name given.
        name: String,
        /// The law's formula.
        law: String,
        /// Comma-separated parameters of the law.
        params: String,
    },
    /// A range or axis is named twice.
    #[error("`{name}` is given twice; give each parameter one range and each variable one axis")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A range is empty, reversed or not finite.
    #[error(
        "range of `{name}` is [{low}, {high}]: give finite bounds with low <= high (equal bounds fix the parameter)"
    )]
    BadRange {
        /// The parameter.
        name: String,
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
    /// A design has no points, or an axis of a grid has no values.
    #[error("the design has no points{detail}; give at least one value per axis and one point")]
    EmptyDesign {
        /// Which axis is empty, if one is.
        detail: String,
    },
    /// A point of a design has the wrong number of values.
    #[error("design point {row} has {got} values for the {want} variables {vars}; give one value per variable")]
    RowLength {
        /// 1-based index of the point.
        row: usize,
        /// Values given.
        got: usize,
        /// Variables declared.
        want: usize,
        /// Comma-separated variables.
        vars: String,
    },
    /// A value of a design is NaN or infinite.
    #[error("design point {row} has {var} = {value}; every value must be finite")]
    NotFinite {
        /// 1-based index of the point.
        row: usize,
        /// The variable.
        var: String,
        /// The value.
        value: f64,
    },
    /// The law uses a variable the design does not give.
    #[error("law `{law}` uses variable `{name}`, which the design does not give (it gives {vars}); add an axis or a column for `{name}`")]
    MissingVariable {
        /// The variable.
        name: String,
        /// The law's formula.
        law: String,
        /// Comma-separated variables of the design.
        vars: String,
    },
    /// The noise level is negative or not finite.
    #[error("noise {value} is not a relative noise level; give a finite value >= 0 (0: noise-free)")]
    BadNoise {
        /// The value given.
        value: f64,
    },
    /// A law with the given parameters predicts no usable loss at a design point.
    #[error("with parameters {params}, law `{law}` predicts {value} at design point {row}; a loss must be finite and positive: narrow the ranges or move the point")]
    BadLoss {
        /// The law's formula.
        law: String,
        /// `name = value` pairs.
        params: String,
        /// 1-based index of the point.
        row: usize,
        /// The prediction.
        value: f64,
    },
    /// The parameter vector does not match the law.
    #[error(
        "{got} parameter values for the {want} parameters of law `{law}`; give them in the law's order ({params})"
    )]
    ParamCount {
        /// Values given.
        got: usize,
        /// Parameters of the law.
        want: usize,
        /// The law's formula.
        law: String,
        /// Comma-separated parameters.
        params: String,
    },
    /// The design's values are not valid observations (e.g. S outside [0, 1)).
    #[error("the design is not valid data")]
    Data(#[from] DataError),
}
