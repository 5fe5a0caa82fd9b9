//! Resizing images to the size a model declares, with a named filter ([`Resize`]): a file's
//! images are trained at their own size when it is the declared one, and otherwise brought to
//! it by a filter the experiment names, never silently.
//!
//! - [`Resize::Box`]: area averaging. Each output pixel is the mean of the source area it
//!   covers, weighted by overlap, rounded half up; for an integer factor `f` this is the
//!   rounded mean of an `f × f` block (e.g. CIFAR's 32×32 to 16×16).
//! - [`Resize::Bilinear`]: the `image` crate's triangle (linear) filter, widened when shrinking.
//! - [`Resize::Nearest`]: the `image` crate's nearest-neighbour filter.

use serde::{Deserialize, Serialize};

/// A resampling filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resize {
    /// Area averaging (exact block means for integer factors).
    Box,
    /// Linear (triangle) filter.
    Bilinear,
    /// Nearest neighbour.
    Nearest,
}

impl Resize {
    /// The filter's name as the schema writes it (`Box`, `Bilinear`, `Nearest`).
    pub fn name(self) -> &'static str {
        match self {
            Resize::Box => "Box",
            Resize::Bilinear => "Bilinear",
            Resize::Nearest => "Nearest",
        }
    }

    /// The `image` crate's filter for `Bilinear` and `Nearest`; `None` for `Box` (ours).
    pub(crate) fn image_filter(self) -> Option<image::imageops::FilterType> {
        match self {
            Resize::Box => None,
            Resize::Bilinear => Some(image::imageops::FilterType::Triangle),
            Resize::Nearest => Some(image::imageops::FilterType::Nearest),
        }
    }
}

impl std::fmt::Display for Resize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Resizes one image of `channels` planes (CHW bytes, `from = (height, width)`) to
/// `to = (height, width)` with `filter`. Both sizes must be non-zero; the caller checks.
pub fn resize_chw(pixels: &[u8], channels: usize, from: (usize, usize), to: (usize, usize), filter: Resize) -> Vec<u8> {
    if from == to {
        return pixels.to_vec();
    }
    let (h, w) = from;
    let plane = h * w;
    let mut out = Vec::with_capacity(channels * to.0 * to.1);
    for c in 0..channels {
        let src = &pixels[c * plane..(c + 1) * plane];
        match filter.image_filter() {
            None => box_plane(src, from, to, &mut out),
            Some(f) => {
                // One grey plane per channel: the image crate filters channels independently.
                let img = image::GrayImage::from_raw(w as u32, h as u32, src.to_vec());
                match img {
                    Some(img) => out.extend(image::imageops::resize(&img, to.1 as u32, to.0 as u32, f).into_raw()),
                    None => out.extend(std::iter::repeat(0).take(to.0 * to.1)),
                }
            }
        }
    }
    out
}

/// Overlaps of the output cells with the source cells along one side, in units where a source
/// cell is `to` long and an output cell is `from` long (so every overlap is an integer):
/// `(source index, overlap)` per output index.
fn overlaps(from: usize, to: usize) -> Vec<Vec<(usize, u64)>> {
    (0..to)
        .map(|o| {
            let (lo, hi) = (o * from, (o + 1) * from);
            (lo / to..hi.div_ceil(to))
                .filter_map(|s| {
                    let overlap = hi.min((s + 1) * to).saturating_sub(lo.max(s * to));
                    (overlap > 0).then_some((s, overlap as u64))
                })
                .collect()
        })
        .collect()
}

/// Area-averages one plane, rounding half up in integers.
fn box_plane(src: &[u8], (h, w): (usize, usize), (th, tw): (usize, usize), out: &mut Vec<u8>) {
    let (ys, xs) = (overlaps(h, th), overlaps(w, tw));
    let total = (h * w) as u64; // Σ overlaps over an output cell = h · w
    for row in &ys {
        for col in &xs {
            let mut acc = 0u64;
            for &(y, wy) in row {
                for &(x, wx) in col {
                    acc += wy * wx * src[y * w + x] as u64;
                }
            }
            out.push(((acc + total / 2) / total) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_weights_cover_each_output_cell_exactly() {
        for (from, to) in [(32, 16), (32, 12), (5, 3), (3, 5), (7, 7), (1, 4)] {
            for cells in overlaps(from, to) {
                assert_eq!(cells.iter().map(|c| c.1).sum::<u64>(), from as u64, "{from} → {to}");
            }
        }
    }
}
