//! Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations (Golub & Van
//! Loan, *Matrix Computations*, §8.5): accurate for the tens of parameters a law has, and
//! without a linear-algebra dependency.

/// Eigenvalues (ascending) and unit eigenvectors (`vectors[k]` belongs to `values[k]`) of the
/// symmetric matrix `a` (rows of equal length; only the symmetric part is used).
pub(super) fn symmetric_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut m: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| 0.5 * (a[i][j] + a[j][i])).collect()).collect();
    let mut v: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j].powi(2))
            .sum();
        let diag: f64 = (0..n).map(|i| m[i][i].powi(2)).sum();
        if off <= 1e-30 * diag || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if m[p][q] == 0.0 {
                    continue;
                }
                let theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in m.iter_mut() {
                    let (mkp, mkq) = (row[p], row[q]);
                    row[p] = c * mkp - s * mkq;
                    row[q] = s * mkp + c * mkq;
                }
                let (row_p, row_q) = (m[p].clone(), m[q].clone());
                for (k, (mpk, mqk)) in row_p.into_iter().zip(row_q).enumerate() {
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[i][i].total_cmp(&m[j][j]));
    let values = order.iter().map(|&k| m[k][k]).collect();
    let vectors = order.iter().map(|&k| (0..n).map(|i| v[i][k]).collect()).collect();
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_decomposition() {
        // A = Q diag(1e-9, 2, 5) Qᵀ for a rotation Q.
        let (c, s) = (0.6f64, 0.8f64);
        let q = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let d = [1e-9, 2.0, 5.0];
        let a: Vec<Vec<f64>> =
            (0..3).map(|i| (0..3).map(|j| (0..3).map(|k| q[i][k] * d[k] * q[j][k]).sum()).collect()).collect();
        let (vals, vecs) = symmetric_eigen(&a);
        for (v, w) in vals.iter().zip(d) {
            assert!((v - w).abs() < 1e-12, "{vals:?}");
        }
        // The smallest eigenvalue's vector is Q's first column (up to sign).
        let dot: f64 = (0..3).map(|i| vecs[0][i] * q[i][0]).sum();
        assert!((dot.abs() - 1.0).abs() < 1e-12, "{vecs:?}");
    }
}
