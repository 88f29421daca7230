//! Tile planning, geometry and feathered blending weights.
//!
//! `--tile N` is the core of a tile: each tile also gets `context` input pixels on every side
//! (never cut to fit), so one model run is `N + 2 * context` pixels wide, rounded up to the model's
//! multiple. All tiles of an image have that one shape: they are spread evenly over the image
//! (the first and last touch its borders; an image that fits in one run is one tile, reflect-padded
//! to the multiple). A tile contributes only where it has its full context (or the image border):
//! between neighbours the weights switch over inside the spare overlap beyond the context, with a
//! linear cross-fade as wide as that spare room allows. Per axis at most two tiles have weight at a
//! point and their weights sum to exactly 1, so the separable 2-D weights are a partition of unity.
//!
//! `--tile auto` on CPU plans each image on its own ([`Tiles::axes`]): of all grids whose tiles
//! divide the image evenly (one shape, context as the only overlap), the one that computes the
//! fewest pixels while one run fits the memory budget; the whole image when it fits.

use crate::TileSize;

mod grid;
pub use grid::Plan;

/// Core side and context of the tiles of one upscaler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tiles {
    /// Input pixels a tile contributes, at least (per side).
    pub core: usize,
    /// Input pixels of context beyond the core on every inner side.
    pub context: usize,
    /// Model input sides must be multiples of this.
    pub multiple: usize,
    /// Static input height and width of the model, if any.
    pub fixed: Option<(usize, usize)>,
    /// `--tile auto` on CPU: the memory one run may take; each image gets its own grid.
    pub budget: Option<RunBudget>,
}

/// What one run of `ex` x `ey` input pixels costs, against what it may cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunBudget {
    pub bytes: f64,
    /// Activation bytes per input pixel of a run ([`run_bytes_per_pixel`]).
    pub per_pixel: f64,
    pub scale: usize,
}

/// What [`Tiles::plan`] needs to know about the model and the run.
#[derive(Debug, Clone, Copy)]
pub struct TileRequest<'a> {
    pub tile: TileSize,
    /// Context asked for (`None`: `needed`).
    pub context: Option<usize>,
    /// Context the architecture needs for tiled output within 1/255 of untiled output.
    pub needed: usize,
    pub scale: usize,
    pub multiple: usize,
    pub fixed: Option<(usize, usize)>,
    pub gpu: bool,
    pub budget_mib: Option<usize>,
    /// `prism.architecture` of the model, for its memory per pixel.
    pub architecture: Option<&'a str>,
}

/// Activation bytes per input pixel of one CPU run, from the growth of peak RSS between two
/// `--tile whole` runs (ONNX Runtime 1.31, CPU arena): SRVGGNetCompact x2 (64 channels at input
/// resolution) 1.25 KB; RRDBNet x4 (x4plus: 64 channels up to 4x the pixels) 10.7 KB. Others
/// are counted as RRDBNet.
pub fn run_bytes_per_pixel(architecture: Option<&str>, scale: usize) -> f64 {
    let s2 = (scale * scale) as f64;
    match architecture {
        Some("SRVGGNetCompact") => 4.0 * (5.0 * 64.0 + 6.0 * s2),
        _ => 4.0 * 64.0 * (6.0 + s2) * 2.0,
    }
}

/// Smallest core an explicit `--tile` gets: below it the context dominates the work.
pub const MIN_CORE: usize = 16;

impl Tiles {
    /// Core and context for a request; warns where it changes what was asked, and why.
    pub fn plan(r: &TileRequest<'_>) -> Result<Tiles, String> {
        let multiple = r.multiple.max(1);
        let mut context = r.context.unwrap_or(r.needed);
        if context < r.needed {
            tracing::warn!(
                "tile context {context} px is below the {} px this model needs: tiled output may \
                 differ from untiled output by more than 1/255 at seams",
                r.needed
            );
        }
        if let Some((h, w)) = r.fixed {
            let fit = (h.min(w).saturating_sub(1) / 2).min(context);
            if fit < context {
                tracing::warn!(
                    "the model takes fixed {w}x{h} inputs: tile context cut from {context} to {fit} \
                     px (seams may show)"
                );
                context = fit;
            }
            let core = h.min(w) - 2 * context;
            return Ok(Tiles {
                core,
                context,
                multiple: 1,
                fixed: r.fixed,
                budget: None,
            });
        }
        let mut budget = None;
        let core = match r.tile {
            TileSize::Size(0) => return Err("--tile must be at least 1 pixel".into()),
            TileSize::Size(n) if (n as usize) < MIN_CORE => {
                tracing::warn!(
                    "--tile {n} raised to {MIN_CORE}: every tile also computes {context} px of \
                     context per side, so smaller tiles only multiply the work"
                );
                MIN_CORE
            }
            TileSize::Size(n) => n as usize,
            TileSize::Whole => usize::MAX / 8,
            // GPU: square runs, so one TensorRT shape profile serves every image.
            TileSize::Auto if r.gpu => {
                let side = auto_side(r.scale, multiple, r.gpu, r.budget_mib);
                side.saturating_sub(2 * context).max(32)
            }
            TileSize::Auto => {
                let run = RunBudget {
                    bytes: r.budget_mib.unwrap_or(1024) as f64 * 1024.0 * 1024.0,
                    per_pixel: run_bytes_per_pixel(r.architecture, r.scale),
                    scale: r.scale,
                };
                budget = Some(run);
                // The largest square run, as a summary; images are planned in `axes`.
                let side = (run.bytes / run.per_pixel).sqrt() as usize;
                side.saturating_sub(2 * context).max(32)
            }
        };
        Ok(Tiles {
            core,
            context,
            multiple,
            fixed: None,
            budget,
        })
    }

    /// Side of one model run (core plus context, rounded up to the multiple).
    pub fn extent(&self) -> usize {
        match self.fixed {
            Some((h, w)) => h.min(w),
            None => round_up(
                self.core
                    .saturating_add(2 * self.context)
                    .min(usize::MAX / 4),
                self.multiple,
            ),
        }
    }

    /// Tiles along the x and y axes of a `width` x `height` image.
    pub fn axes(&self, width: usize, height: usize) -> (Axis, Axis) {
        let (ex, ey) = match self.fixed {
            Some((h, w)) => (w, h),
            None => (self.extent(), self.extent()),
        };
        let context = |extent: usize| self.context.min(extent.saturating_sub(1) / 2);
        if let (Some(budget), None) = (self.budget, self.fixed) {
            return crate::tiling::grid::plan(width, height, self.context, self.multiple, budget);
        }
        let axis = if self.fixed.is_some() {
            Axis::with_extent
        } else {
            Axis::new
        };
        (
            axis(width, ex, context(ex), self.multiple),
            axis(height, ey, context(ey), self.multiple),
        )
    }
}

/// Model input side from the activation memory of one run.
fn auto_side(scale: usize, multiple: usize, gpu: bool, budget_mib: Option<usize>) -> usize {
    let budget = budget_mib.unwrap_or(if gpu { 2048 } else { 1024 }) as f64 * 1024.0 * 1024.0;
    // ~64 feature channels at input resolution (several live at once) plus the upsampled trunk,
    // 4 bytes each, with 2x headroom for runtime buffers.
    let s2 = (scale * scale) as f64;
    let bytes_per_pixel = 4.0 * 64.0 * (6.0 + s2) * 2.0 / if gpu { 2.0 } else { 1.0 };
    let side = (budget / bytes_per_pixel).sqrt() as usize;
    let side = (side / 32 * 32).clamp(64, 1024);
    round_up(side, multiple)
}

/// Tiles along one axis of length `len`.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Tile extent along this axis (input pixels), the same for every tile.
    pub extent: usize,
    /// Start of each tile (input pixels).
    pub starts: Vec<usize>,
    /// Switch-over point between tile `i` and `i + 1` (input pixels).
    centres: Vec<f64>,
    /// Width of the cross-fade around each centre (0: a hard switch).
    feathers: Vec<f64>,
}

/// Rounds `n` up to a multiple of `m`.
pub fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m.max(1)) * m.max(1)
}

impl Axis {
    /// The fewest tiles of at most `extent` pixels that cover `len`, each contributing only where
    /// it has `context` pixels on both sides (or the border), made as small as that many tiles
    /// allow (a multiple of `multiple`). A `len` that fits in one tile gives a single tile of
    /// `len` rounded up to `multiple`. `extent` must exceed `2 * context`.
    pub fn new(len: usize, extent: usize, context: usize, multiple: usize) -> Axis {
        let multiple = multiple.max(1);
        if len > extent {
            let valid = extent.saturating_sub(2 * context).max(1);
            let tiles = (len - 2 * context).div_ceil(valid);
            let balanced = (len - 2 * context).div_ceil(tiles) + 2 * context;
            return Axis::with_extent(len, extent.min(round_up(balanced, multiple)), context, 1);
        }
        Axis::with_extent(len, extent, context, multiple)
    }

    /// Tiles of exactly `extent` pixels (for `len <= extent`: one of `len` rounded up to
    /// `multiple`), spread evenly over `len`.
    pub fn with_extent(len: usize, extent: usize, context: usize, multiple: usize) -> Axis {
        let multiple = multiple.max(1);
        if len <= extent {
            return Axis {
                extent: round_up(len.max(1), multiple),
                starts: vec![0],
                centres: Vec::new(),
                feathers: Vec::new(),
            };
        }
        let valid = extent.saturating_sub(2 * context).max(1);
        let span = len - extent;
        let gaps = span.div_ceil(valid);
        // Evenly spread: consecutive starts differ by at most `valid`.
        let starts: Vec<usize> = (0..=gaps).map(|k| (k * span + gaps / 2) / gaps).collect();
        let centres: Vec<f64> = starts
            .windows(2)
            .map(|w| (w[1] + w[0] + extent) as f64 / 2.0)
            .collect();
        // Spare room where both neighbours have full context, capped so fades never meet.
        let feathers = (0..centres.len())
            .map(|k| {
                let spare = (starts[k] + extent).saturating_sub(starts[k + 1] + 2 * context) as f64;
                let before = k
                    .checked_sub(1)
                    .map_or(f64::MAX, |p| centres[k] - centres[p]);
                let after = centres.get(k + 1).map_or(f64::MAX, |n| n - centres[k]);
                spare.min(before).min(after)
            })
            .collect();
        Axis {
            extent,
            starts,
            centres,
            feathers,
        }
    }

    /// Weight of tile `i` at input position `p` (continuous).
    pub fn weight(&self, i: usize, p: f64) -> f32 {
        let ramp = |k: usize| {
            let (c, f) = (self.centres[k], self.feathers[k]);
            if f <= 0.0 {
                if p >= c { 1.0 } else { 0.0 }
            } else {
                ((p - (c - f / 2.0)) / f).clamp(0.0, 1.0)
            }
        };
        let rising = if i == 0 { 1.0 } else { ramp(i - 1) };
        let falling = if i + 1 == self.starts.len() {
            1.0
        } else {
            1.0 - ramp(i)
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

    fn request(tile: TileSize, context: usize) -> TileRequest<'static> {
        TileRequest {
            tile,
            context: Some(context),
            needed: context,
            scale: 4,
            multiple: 1,
            fixed: None,
            gpu: false,
            budget_mib: None,
            architecture: None,
        }
    }

    #[test]
    fn weights_are_a_partition_of_unity_and_keep_the_context() {
        for (len, extent, context) in [
            (100, 32, 8),
            (257, 64, 16),
            (64, 64, 16),
            (65, 32, 15),
            (1000, 128, 10),
            (128, 80, 16),
            (256, 176, 64),
            (300, 177, 64),
            (1000, 41, 20),
        ] {
            let multiple = 1 + len % 2 * 3;
            let extent = round_up(extent, multiple);
            let axis = Axis::new(len, extent, context, multiple);
            assert_eq!(axis.extent % multiple, 0);
            assert!(axis.extent <= round_up(extent.max(len), multiple));
            assert_eq!(axis.starts[0], 0);
            if len > extent {
                assert_eq!(axis.starts.last().unwrap() + axis.extent, len);
            }
            for scale in [1, 3, 4] {
                for u in 0..len * scale {
                    let p = (u as f64 + 0.5) / scale as f64;
                    let mut total = 0.0;
                    for (i, &s) in axis.starts.iter().enumerate() {
                        let (s, e) = (s as f64, (s + axis.extent) as f64);
                        let w = axis.weight(i, p);
                        if p < s || p >= e {
                            continue;
                        }
                        total += w;
                        // Full context on every inner side wherever a tile has weight.
                        let inner_left = i > 0 && p < s + context as f64;
                        let inner_right = i + 1 < axis.starts.len() && p > e - context as f64;
                        assert!(
                            w == 0.0 || !(inner_left || inner_right),
                            "len {len} extent {extent}: tile {i} has weight {w} at {p}"
                        );
                    }
                    assert!(
                        (total - 1.0).abs() < 1e-6,
                        "len {len} extent {extent} p {p}: {total}"
                    );
                }
            }
        }
    }

    #[test]
    fn fewest_tiles_for_the_core() {
        // 48 px cores with 16 px of context on 128 px: two runs of 80 px, not six of 48.
        let tiles = Tiles::plan(&request(TileSize::Size(48), 16)).unwrap();
        assert_eq!(tiles.extent(), 80);
        let (x, _) = tiles.axes(128, 10);
        assert_eq!(x.starts, vec![0, 48]);
        // x4plus's 64 px context is never cut: a 48 px tile runs 176 px, one run for 128 px;
        // two runs for 200 px, balanced: 164 px each.
        let tiles = Tiles::plan(&request(TileSize::Size(48), 64)).unwrap();
        let (x, y) = tiles.axes(128, 200);
        assert_eq!((x.extent, x.starts.len()), (128, 1));
        assert_eq!((y.extent, y.starts), (164, vec![0, 36]));
        // Balancing keeps the number of runs and never grows a run: 256 px in 224 px runs.
        let tiles = Tiles::plan(&request(TileSize::Size(192), 16)).unwrap();
        let (x, _) = tiles.axes(256, 256);
        assert_eq!((x.extent, x.starts), (144, vec![0, 112]));
        let (x, _) = Tiles {
            multiple: 4,
            ..tiles
        }
        .axes(255, 1);
        assert_eq!((x.extent, x.starts), (144, vec![0, 111]));
    }

    #[test]
    fn sizes_from_the_command_line_are_checked() {
        assert!(Tiles::plan(&request(TileSize::Size(0), 16)).is_err());
        let small = Tiles::plan(&request(TileSize::Size(1), 16)).unwrap();
        assert_eq!(small.core, MIN_CORE);
        let huge = Tiles::plan(&request(TileSize::Size(u32::MAX), 512)).unwrap();
        let (x, y) = huge.axes(100, 3);
        assert_eq!((x.extent, y.extent, x.starts.len()), (100, 3, 1));
        let whole = Tiles::plan(&request(TileSize::Whole, 512)).unwrap();
        assert_eq!(whole.axes(5000, 7).0.starts, vec![0]);
        let auto = Tiles::plan(&request(TileSize::Auto, 64)).unwrap();
        assert!(auto.budget.is_some());
        assert_eq!(auto.axes(100, 60).0.starts, vec![0]);
        let gpu = Tiles::plan(&TileRequest {
            gpu: true,
            ..request(TileSize::Auto, 64)
        })
        .unwrap();
        assert_eq!((gpu.core, gpu.extent(), gpu.budget), (480, 608, None));
    }

    #[test]
    fn fixed_shapes_keep_their_extent() {
        let tiles = Tiles::plan(&TileRequest {
            fixed: Some((64, 96)),
            ..request(TileSize::Auto, 64)
        })
        .unwrap();
        assert_eq!(tiles.context, 31);
        let (x, y) = tiles.axes(300, 200);
        assert_eq!((x.extent, y.extent), (96, 64));
    }

    #[test]
    fn small_images_pad_to_multiple() {
        let axis = Axis::new(37, 96, 16, 4);
        assert_eq!((axis.extent, axis.starts.clone()), (40, vec![0]));
    }
}
