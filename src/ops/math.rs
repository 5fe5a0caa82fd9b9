//! Branch-free `exp`, `erf` and `tanh` for `f32` that the compiler vectorizes, and a macro
//! that compiles a slice kernel for AVX2 + FMA with a run-time check (the crate itself is
//! built for baseline x86-64).
//!
//! Accuracy: `exp` has a relative error of a few ulp (Cody–Waite reduction and the degree-6
//! polynomial used by Cephes' `expf`); `erf` is Abramowitz & Stegun 7.1.26 (absolute error
//! ≤ 1.5e-7); `tanh` is `1 − 2/(e^{2|x|} + 1)` with the sign restored (absolute error ≈ 1e-7).
//! The tests compare each against `std`/`libm` on a grid.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 · 2^23: adding and subtracting it rounds an `f32` of magnitude < 2^22 to an integer.
const ROUND: f32 = 12_582_912.0;

/// `e^x` (NaN stays NaN; under-/overflow saturate at `e^-87` and `e^88`).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Not `clamp`: `max` maps NaN to -87, so `xc` is always finite (the bit trick below needs
    // that); the NaN is restored at the end.
    #[allow(clippy::manual_clamp)]
    let xc = x.max(-87.0).min(88.0);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    // The integer n sits in the low mantissa bits of t: read it with integer ops (a float to
    // int `as` cast saturates, which the compiler does not vectorize).
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits((ni.wrapping_add(127) as u32) << 23);
    let out = y * scale;
    if x.is_nan() {
        x
    } else {
        out
    }
}

/// The error function (Abramowitz & Stegun 7.1.26).
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// Hyperbolic tangent.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs().min(9.0);
    let e = exp(2.0 * a);
    let y = 1.0 - 2.0 / (e + 1.0);
    let y = y.copysign(x);
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// Defines `$vis fn $name(args)` that runs `$body(args)` compiled with AVX-512 (F, VL) or else
/// AVX2 + FMA when the CPU has them (checked at run time, cached by `std`), and the baseline
/// build otherwise. The bodies never ask for fused multiply-adds (Rust does not contract
/// `a * b + c`), so all three builds give the same bits; only the vector width differs. `$body`
/// must be `#[inline(always)]` so that it is compiled inside the feature-enabled wrapper.
macro_rules! simd_kernel {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident : $t:ty),* $(,)?) => $body:path) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($a: $t),*) {
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("fma")
                {
                    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                    #[allow(clippy::too_many_arguments)]
                    unsafe fn wide512($($a: $t),*) {
                        $body($($a),*)
                    }
                    // SAFETY: the CPU supports AVX-512F/VL and FMA (checked just above);
                    // `wide512` does nothing else unsafe.
                    unsafe { wide512($($a),*) };
                    return;
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    #[target_feature(enable = "avx2,fma")]
                    #[allow(clippy::too_many_arguments)]
                    unsafe fn wide($($a: $t),*) {
                        $body($($a),*)
                    }
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above); `wide` does
                    // nothing else unsafe.
                    unsafe { wide($($a),*) };
                    return;
                }
            }
            $body($($a),*)
        }
    };
}
pub(crate) use simd_kernel;
