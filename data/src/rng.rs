//! Counter-based seeding: every example is a pure function of `(seed, domain, index)`, so a
//! stream can jump to any position in O(1) and a checkpoint needs only the index.
//!
//! The generator is xoshiro256++ (Blackman & Vigna, 2018) seeded through SplitMix64; both are
//! tiny, portable and fixed here so that numbers never change with a dependency upgrade.

use rand::RngCore;

/// One step of SplitMix64: a strong 64-bit mixer.
#[inline]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes a list of words into one 64-bit key (order matters).
#[inline]
pub fn mix(words: &[u64]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3u64;
    for &w in words {
        h = splitmix64(h ^ splitmix64(w));
    }
    h
}

/// FNV-1a over bytes, then mixed: used for config fingerprints.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    splitmix64(h)
}

/// xoshiro256++, implementing [`rand::RngCore`] so `rand`/`rand_distr` distributions work.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for the key mixed from `words`.
    pub fn new(words: &[u64]) -> Self {
        let mut z = mix(words);
        let mut s = [0u64; 4];
        for w in s.iter_mut() {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *w = splitmix64(z);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, 1)` as f32.
    #[inline]
    pub fn uniform_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (bias < 2^-64·n).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal by Box–Muller (one value; cheap enough and exactly reproducible).
    #[inline]
    pub fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// Two independent standard normals (both outputs of Box–Muller).
    #[inline]
    pub fn normal_pair(&mut self) -> (f32, f32) {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        ((r * c) as f32, (r * s) as f32)
    }

    /// Four standard normals from one 64-bit draw, by looking up a fixed table of 65,536
    /// Gaussian samples (standardised to mean 0, variance 1). A fast approximation used for
    /// pixel noise, where exact tails do not matter.
    #[inline]
    pub fn normal4(&mut self) -> [f32; 4] {
        let t = normal_table();
        let r = self.next_u64();
        [
            t[(r & 0xffff) as usize],
            t[((r >> 16) & 0xffff) as usize],
            t[((r >> 32) & 0xffff) as usize],
            t[(r >> 48) as usize],
        ]
    }

    /// Samples an index from a cumulative distribution (last entry = total weight).
    #[inline]
    pub fn categorical_cdf(&mut self, cdf: &[f64]) -> usize {
        let total = cdf[cdf.len() - 1];
        let u = self.uniform() * total;
        let i = cdf.partition_point(|&c| c <= u);
        i.min(cdf.len() - 1)
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

impl RngCore for Rng {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Cumulative Zipf weights `1/(k+1)^s` for `k in 0..n`.
pub fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    (0..n)
        .map(|k| {
            acc += 1.0 / ((k + 1) as f64).powf(s);
            acc
        })
        .collect()
}

fn normal_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = Rng::new(&[0x4e4f_524d]);
        let mut t: Vec<f64> = (0..1 << 16).map(|_| rng.normal() as f64).collect();
        let n = t.len() as f64;
        let mean = t.iter().sum::<f64>() / n;
        let std = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        for v in t.iter_mut() {
            *v = (*v - mean) / std;
        }
        t.into_iter().map(|v| v as f32).collect()
    })
}
