//! Test-time augmentation: the model run over the 8 dihedral views of a batch, averaged.

use ndarray::{Array4, Axis as NdAxis};

use super::Upscaler;
use crate::error::Result;

impl Upscaler {
    pub(super) fn run_model(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>> {
        let transforms: &[(bool, bool, bool)] = if self.options.tta {
            &[
                (false, false, false),
                (false, true, false),
                (false, false, true),
                (false, true, true),
                (true, false, false),
                (true, true, false),
                (true, false, true),
                (true, true, true),
            ]
        } else {
            &[(false, false, false)]
        };
        let mut sum: Option<Array4<f32>> = None;
        for &(transpose, flip_x, flip_y) in transforms {
            let input = dihedral(batch, transpose, flip_x, flip_y, false);
            let output = self.run_once(input)?;
            let mut output = dihedral(&output, transpose, flip_x, flip_y, true);
            if transforms.len() > 1 {
                // The average of what each view would give on its own (outputs are clamped).
                output.mapv_inplace(|v| v.clamp(0.0, 1.0));
            }
            match sum.as_mut() {
                Some(total) => *total += &output,
                None => sum = Some(output),
            }
        }
        let mut out = sum.expect("at least one transform");
        if transforms.len() > 1 {
            out /= transforms.len() as f32;
        }
        Ok(out)
    }
}

/// A dihedral transform of NCHW tiles (`inverse` undoes it).
fn dihedral(
    x: &Array4<f32>,
    transpose: bool,
    flip_x: bool,
    flip_y: bool,
    inverse: bool,
) -> Array4<f32> {
    if !transpose && !flip_x && !flip_y {
        return x.clone();
    }
    let mut view = x.view();
    if inverse {
        if flip_x {
            view.invert_axis(NdAxis(3));
        }
        if flip_y {
            view.invert_axis(NdAxis(2));
        }
        if transpose {
            view = view.permuted_axes([0, 1, 3, 2]);
        }
    } else {
        if transpose {
            view = view.permuted_axes([0, 1, 3, 2]);
        }
        if flip_x {
            view.invert_axis(NdAxis(3));
        }
        if flip_y {
            view.invert_axis(NdAxis(2));
        }
    }
    view.as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dihedral_round_trips() {
        let x = Array4::from_shape_fn((2, 3, 4, 5), |(a, b, c, d)| {
            (a * 1000 + b * 100 + c * 10 + d) as f32
        });
        for t in [false, true] {
            for fx in [false, true] {
                for fy in [false, true] {
                    let y = dihedral(&x, t, fx, fy, false);
                    assert_eq!(dihedral(&y, t, fx, fy, true), x);
                }
            }
        }
    }
}
