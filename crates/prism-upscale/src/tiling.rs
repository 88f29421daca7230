//! Tile geometry and feathered blending weights.
//!
//! Tiles have one fixed shape per image (edge tiles are moved inward, never shrunk; an image
//! smaller than a tile is reflect-padded up to the model's multiple), neighbours overlap by
//! `2 * overlap` input pixels, and across each overlap the weights cross-fade linearly over
//! `overlap / 2` pixels centred in it. Per axis at most two tiles have weight at a point and their
//! weights sum to exactly 1, so the 2-D (separable) weights are a partition of unity: no
//! normalisation pass, and no tile contributes within `3/4 overlap` pixels of its own inner edge,
//! where the network saw zero padding instead of the image.

/// Tiles along one axis of length `len`.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Tile extent along this axis (input pixels), the same for every tile.
    pub extent: usize,
    /// Start of each tile (input pixels).
    pub starts: Vec<usize>,
    /// Cross-fade centre between tile `i` and `i + 1` (input pixels).
    centres: Vec<f64>,
    feather: f64,
}

/// Rounds `n` up to a multiple of `m`.
pub fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m.max(1)) * m.max(1)
}

impl Axis {
    /// Tiles of (at most) `tile` pixels covering `len`, overlapping by `2 * overlap`. A `len`
    /// that fits in one tile gives a single tile of `len` rounded up to `multiple`.
    pub fn new(len: usize, tile: usize, overlap: usize, multiple: usize) -> Axis {
        let multiple = multiple.max(1);
        let tile = round_up(tile.max(multiple), multiple);
        if len <= tile {
            return Axis {
                extent: round_up(len.max(1), multiple),
                starts: vec![0],
                centres: Vec::new(),
                feather: 1.0,
            };
        }
        // Keep at least one overlap-width of core per tile so cross-fades never meet.
        let overlap = overlap.min(tile / 3);
        let stride = (tile - 2 * overlap).max(1);
        let mut starts = Vec::new();
        let mut s = 0;
        while s + tile < len {
            starts.push(s);
            s += stride;
        }
        starts.push(len - tile);
        starts.dedup();
        let centres = starts
            .windows(2)
            .map(|w| (w[1] as f64 + (w[0] + tile) as f64) / 2.0)
            .collect();
        Axis {
            extent: tile,
            starts,
            centres,
            feather: (overlap as f64 / 2.0).max(1.0),
        }
    }

    /// Weight of tile `i` at input position `p` (continuous).
    pub fn weight(&self, i: usize, p: f64) -> f32 {
        let ramp = |c: f64| ((p - (c - self.feather / 2.0)) / self.feather).clamp(0.0, 1.0);
        let rising = if i == 0 {
            1.0
        } else {
            ramp(self.centres[i - 1])
        };
        let falling = if i + 1 == self.starts.len() {
            1.0
        } else {
            1.0 - ramp(self.centres[i])
        };
        (rising * falling) as f32
    }

    /// Weights of tile `i` over its output pixels `[start * scale, start * scale + count)`.
    pub fn output_weights(&self, i: usize, scale: usize, count: usize) -> Vec<f32> {
        let start = self.starts[i] * scale;
        (0..count)
            .map(|k| self.weight(i, ((start + k) as f64 + 0.5) / scale as f64))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_a_partition_of_unity() {
        for (len, tile, overlap) in [
            (100, 32, 8),
            (257, 64, 16),
            (64, 64, 16),
            (65, 32, 16),
            (1000, 128, 10),
        ] {
            let axis = Axis::new(len, tile, overlap, 1);
            assert!(
                axis.starts
                    .iter()
                    .all(|&s| s + axis.extent <= len.max(axis.extent))
            );
            if len > axis.extent {
                assert_eq!(axis.starts.last().unwrap() + axis.extent, len);
            }
            for scale in [1, 4] {
                for u in 0..len * scale {
                    let p = (u as f64 + 0.5) / scale as f64;
                    let total: f32 = (0..axis.starts.len())
                        .filter(|&i| {
                            let s = axis.starts[i] as f64;
                            p >= s && p < s + axis.extent as f64
                        })
                        .map(|i| axis.weight(i, p))
                        .sum();
                    assert!(
                        (total - 1.0).abs() < 1e-6,
                        "len {len} tile {tile} p {p}: {total}"
                    );
                }
            }
        }
    }

    #[test]
    fn no_weight_near_inner_edges() {
        let axis = Axis::new(300, 64, 16, 1);
        for i in 1..axis.starts.len() {
            let s = axis.starts[i] as f64;
            assert_eq!(axis.weight(i, s + 11.9), 0.0);
        }
    }

    #[test]
    fn small_images_pad_to_multiple() {
        let axis = Axis::new(37, 64, 16, 4);
        assert_eq!((axis.extent, axis.starts.clone()), (40, vec![0]));
    }
}
