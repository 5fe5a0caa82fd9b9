//! A user's own property tests of a scaling law, written against `sparse-scaling` with its
//! `proptest` feature, as a crate of their own would be (the tests are in `tests/`; CI runs
//! them with `cargo test --workspace`).
//!
//! The law is Chinchilla's form (Hoffmann et al. 2022) with the paper's sparsity factor on the
//! size term (Frantar et al., ICLR 2024, eq. 1; docs/THEORY.md §1), in normalised units
//! (N in millions of non-zeros, D in 1e5 steps):
//!
//! `L(S, N, D) = E + (A·(1 − S)^b + c) / N^alpha + B / D^beta`
//!
//! Here are the law, the parameter ranges the user believes in and the sweep they run; the
//! properties are that a fit of noise-free data from the law recovers its parameters, that a
//! fit of noisy data still predicts the sweep, and that the optimal sparsity does not fall
//! as the compute budget grows at a fixed model size.
//!
//! ```
//! let law = fit_properties::law();
//! assert_eq!(law.param_names(), ["E", "A", "b", "c", "alpha", "B", "beta"]);
//! assert_eq!(fit_properties::sweep().len(), 48);
//! ```

use sparse_scaling::law::Law;
use sparse_scaling::strategies::{Design, ParamRanges};

/// The law under test, checked at compile time by `law!`.
pub fn law() -> Law {
    sparse_scaling::law!("E + (A*(1-S)^b + c)/N^alpha + B/D^beta", vars = [S, N, D])
}

/// Where the user believes the parameters lie.
pub fn ranges() -> ParamRanges {
    let ranges = [
        ("E", 0.5, 1.2),
        ("A", 0.3, 1.0),
        ("b", 0.5, 1.5),
        ("c", 0.5, 2.0),
        ("alpha", 0.2, 0.4),
        ("B", 0.2, 0.8),
        ("beta", 0.2, 0.6),
    ];
    // every name above is a parameter of `law()` and every range is ordered
    ParamRanges::new(&law(), &ranges).unwrap_or_else(|e| panic!("fit-properties' own ranges: {e}"))
}

/// The sweep the user runs: 4 sparsities × 4 sizes × 3 lengths, like the paper's T5 table.
pub fn sweep() -> Design {
    let axes: [(&str, &[f64]); 3] =
        [("S", &[0.0, 0.5, 0.75, 0.875]), ("N", &[1.3, 5.3, 21.2, 85.0]), ("D", &[2.5, 5.0, 10.0])];
    // three non-empty axes of finite values
    Design::grid(&axes).unwrap_or_else(|e| panic!("fit-properties' own sweep: {e}"))
}
