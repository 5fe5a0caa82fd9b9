//! Closed forms of the paper's law (docs/THEORY.md §1 Eq. 1 and §3), used to check the generic,
//! derivative-based analysis and available on their own.
//!
//! L(S, N, D) = (a_S (1 − S)^b_S + c_S) · N^(−b_N) + (a_D / D)^b_D + c, with the default cost
//! model C = 6 · N / (1 − S) · D. The normalised fitting form of the authors' code,
//! `(a·(1−S)^b + c)·N^(−d) + e·D^(−f) + g`, is the same law with a_D = e^(1/f) (in the units of
//! its own D); [`PaperCoefficients::from_normalised`] converts.
//!
//! Derivations (all checked numerically against the generic analysis in the tests):
//! * dense-equivalent size m(S) = ((a_S + c_S) / (a_S (1 − S)^b_S + c_S))^(1/b_N);
//! * with D = C (1 − S) / (6N), ∂L/∂S = 0 gives
//!   (1 − S)^(b_S + b_D) = b_D a_D^b_D N^b_N (C / 6N)^(−b_D) / (a_S b_S), S_opt = max(0, ·);
//! * S_opt depends on (N, C) only through C / N^(1 + b_N/b_D): contours are lines of slope
//!   1 + b_N/b_D in log N – log C; the dense compute-optimal line N_opt ∝ C^(b_D/(b_N+b_D)) has
//!   the same slope;
//! * sparsity starts to pay (S_opt leaves 0) when the data exceeds the dense compute-optimal
//!   amount for that N by (b_N (a_S + c_S) / (a_S b_S))^(1/b_D), the same factor for every N.

use serde::{Deserialize, Serialize};

/// Coefficients of the paper's law (Eq. 1) in the units of the law's own N and D.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperCoefficients {
    /// a_S: scale of the sparsity factor.
    pub a_s: f64,
    /// b_S: exponent of the density (1 − S).
    pub b_s: f64,
    /// c_S: sparsity-independent part of the size factor.
    pub c_s: f64,
    /// b_N: exponent of N.
    pub b_n: f64,
    /// a_D: data scale (same units as D).
    pub a_d: f64,
    /// b_D: exponent of the data term.
    pub b_d: f64,
    /// c: irreducible loss.
    pub c: f64,
}

impl PaperCoefficients {
    /// The T5/C4 coefficients published with the paper's code, normalised units
    /// (N in millions of non-zeros, D in units of 1e5 steps) — docs/THEORY.md §2, a..g =
    /// 0.56779, 0.72161, 1.52265, 0.24513, 0.63362, 0.20271, 0.65074.
    pub const T5_PUBLISHED_NORMALISED: [f64; 7] = [0.56779, 0.72161, 1.52265, 0.24513, 0.63362, 0.20271, 0.65074];

    /// The paper's T5 coefficients in the normalised units of its code (see
    /// [`Self::T5_PUBLISHED_NORMALISED`]).
    pub fn t5_published() -> Self {
        Self::from_normalised(Self::T5_PUBLISHED_NORMALISED)
    }

    /// From the normalised fitting form `(a·(1−S)^b + c)·N^(−d) + e·D^(−f) + g`, coefficients in
    /// the order a..g. Uses e·D^(−f) = (a_D/D)^b_D with a_D = e^(1/f), b_D = f.
    pub fn from_normalised(p: [f64; 7]) -> Self {
        let [a, b, c, d, e, f, g] = p;
        Self { a_s: a, b_s: b, c_s: c, b_n: d, a_d: e.powf(1.0 / f), b_d: f, c: g }
    }

    /// Back to the normalised form a..g (e = a_D^b_D).
    pub fn to_normalised(&self) -> [f64; 7] {
        [self.a_s, self.b_s, self.c_s, self.b_n, self.a_d.powf(self.b_d), self.b_d, self.c]
    }

    /// L(S, N, D), Eq. 1.
    pub fn loss(&self, s: f64, n: f64, d: f64) -> f64 {
        (self.a_s * (1.0 - s).powf(self.b_s) + self.c_s) * n.powf(-self.b_n) + (self.a_d / d).powf(self.b_d) + self.c
    }

    /// Dense-equivalent size factor m(S): a model at sparsity S with N non-zeros reaches the loss
    /// of a dense model with m(S)·N parameters (independent of N and D for this law).
    pub fn dense_equivalent(&self, s: f64) -> f64 {
        ((self.a_s + self.c_s) / (self.a_s * (1.0 - s).powf(self.b_s) + self.c_s)).powf(1.0 / self.b_n)
    }

    /// S_opt(N, C) under C = 6·N/(1−S)·D, closed form (docs/THEORY.md §3).
    pub fn optimal_sparsity(&self, n: f64, c: f64) -> f64 {
        let x = self.b_d * self.a_d.powf(self.b_d) * n.powf(self.b_n) * (c / (6.0 * n)).powf(-self.b_d)
            / (self.a_s * self.b_s);
        (1.0 - x.powf(1.0 / (self.b_s + self.b_d))).max(0.0)
    }

    /// The budget C at which S_opt(N, C) = `s` (the contour of level `s` through N), default cost.
    /// For `s = 0` this is where sparsity starts to pay.
    pub fn contour_budget(&self, s: f64, n: f64) -> f64 {
        let rhs = (1.0 - s).powf(self.b_s + self.b_d) * self.a_s * self.b_s
            / (self.b_d * self.a_d.powf(self.b_d) * n.powf(self.b_n));
        6.0 * n * rhs.powf(-1.0 / self.b_d)
    }

    /// Slope of the optimal-sparsity contours in log N – log C: 1 + b_N/b_D.
    pub fn contour_slope(&self) -> f64 {
        1.0 + self.b_n / self.b_d
    }

    /// Dense compute-optimal size for budget C (C = 6·N·D):
    /// N_opt = (b_N (a_S + c_S) (C/6)^b_D / (b_D a_D^b_D))^(1/(b_N + b_D)).
    pub fn dense_optimal_size(&self, c: f64) -> f64 {
        let k = self.b_n * (self.a_s + self.c_s) * (c / 6.0).powf(self.b_d) / (self.b_d * self.a_d.powf(self.b_d));
        k.powf(1.0 / (self.b_n + self.b_d))
    }

    /// The budget for which a dense model of size N is compute-optimal (inverse of
    /// [`Self::dense_optimal_size`]).
    pub fn dense_optimal_budget(&self, n: f64) -> f64 {
        let k = n.powf(self.b_n + self.b_d) * self.b_d * self.a_d.powf(self.b_d) / (self.b_n * (self.a_s + self.c_s));
        6.0 * k.powf(1.0 / self.b_d)
    }

    /// Slope of the dense compute-optimal line in log N – log C: (b_N + b_D)/b_D, the same as
    /// the contours ("parallel", paper §3).
    pub fn dense_optimal_slope(&self) -> f64 {
        (self.b_n + self.b_d) / self.b_d
    }

    /// Factor by which the data (equivalently the budget, at fixed N) must exceed the dense
    /// compute-optimal amount before S_opt > 0: (b_N (a_S + c_S) / (a_S b_S))^(1/b_D).
    pub fn sparsity_pays_multiple(&self) -> f64 {
        (self.b_n * (self.a_s + self.c_s) / (self.a_s * self.b_s)).powf(1.0 / self.b_d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_t5_matches_table_1_after_unit_conversion() {
        // Table 1 (raw units): a_S = 16.8, c_S = 45.0, a_D = 6.90e8 tokens (128 × 512 per step).
        let p = PaperCoefficients::t5_published();
        let n_scale = 1e6f64.powf(p.b_n);
        assert!((p.a_s * n_scale - 16.8).abs() < 0.05, "{}", p.a_s * n_scale);
        assert!((p.c_s * n_scale - 45.0).abs() < 0.1, "{}", p.c_s * n_scale);
        let a_d_tokens = p.a_d * 1e5 * 128.0 * 512.0;
        assert!((a_d_tokens / 6.90e8 - 1.0).abs() < 0.005, "{a_d_tokens}");
        let back = p.to_normalised();
        for (x, y) in back.iter().zip(PaperCoefficients::T5_PUBLISHED_NORMALISED) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn m_075_is_about_2_16() {
        let m = PaperCoefficients::t5_published().dense_equivalent(0.75);
        assert!((m - 2.16).abs() < 0.01, "{m}");
        assert_eq!(PaperCoefficients::t5_published().dense_equivalent(0.0), 1.0);
    }

    #[test]
    fn closed_forms_are_mutually_consistent() {
        let p = PaperCoefficients::t5_published();
        for &n in &[10.0, 100.0, 1000.0] {
            for &s in &[0.0, 0.3, 0.75] {
                let c = p.contour_budget(s, n);
                assert!((p.optimal_sparsity(n, c) - s).abs() < 1e-9);
            }
            let c = p.dense_optimal_budget(n);
            assert!((p.dense_optimal_size(c) / n - 1.0).abs() < 1e-9);
            // at fixed N the default cost is linear in D, so budget ratio = data ratio
            let ratio = p.contour_budget(0.0, n) / c;
            assert!((ratio / p.sparsity_pays_multiple() - 1.0).abs() < 1e-9, "{ratio}");
        }
        let k = p.sparsity_pays_multiple();
        assert!(k > 2.9 && k < 3.1, "T5 sparsity pays at ≈3×, got {k}");
    }
}
