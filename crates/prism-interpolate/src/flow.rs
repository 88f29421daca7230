//! Optical flow as RIFE estimates it, and the two usual ways to look at it: Middlebury `.flo`
//! files and the Middlebury colour-wheel picture (hue = direction, saturation = speed).

use std::io::Write;
use std::path::Path;

use image::RgbImage;
use ndarray::{Array2, Array3, s};

use crate::error::{Error, Result};

/// The network's flow for one intermediate frame: `[4, H, W]` in pixels, channels 0:2 the (x, y)
/// displacement from the intermediate frame to the first frame, 2:4 to the second (backward
/// warping: `frame(p) ~ first(p + flow[0:2](p))`).
#[derive(Debug, Clone)]
pub struct Flow {
    pub data: Array3<f32>,
}

impl Flow {
    pub fn new(data: Array3<f32>) -> Self {
        Self { data }
    }

    pub fn width(&self) -> usize {
        self.data.dim().2
    }

    pub fn height(&self) -> usize {
        self.data.dim().1
    }

    /// The motion from the first frame to the second, seen from the intermediate frame:
    /// `F(t->1) - F(t->0)`, which is the full displacement for linear motion at any `t`.
    /// Returns `(u, v)` planes in pixels.
    pub fn motion(&self) -> (Array2<f32>, Array2<f32>) {
        let u = &self.data.slice(s![2, .., ..]) - &self.data.slice(s![0, .., ..]);
        let v = &self.data.slice(s![3, .., ..]) - &self.data.slice(s![1, .., ..]);
        (u, v)
    }
}

/// Writes `(u, v)` as a Middlebury `.flo` file ("PIEH", width, height, then row-major
/// interleaved little-endian f32 u, v), to a temporary name renamed into place.
pub fn write_flo(path: &Path, u: &Array2<f32>, v: &Array2<f32>) -> Result<()> {
    let (h, w) = u.dim();
    if v.dim() != (h, w) {
        return Err(Error::Input(format!(
            "flow planes differ in size: {:?} and {:?}",
            u.dim(),
            v.dim()
        )));
    }
    let mut bytes = Vec::with_capacity(12 + 8 * w * h);
    bytes.extend_from_slice(&202021.25f32.to_le_bytes());
    bytes.extend_from_slice(&(w as i32).to_le_bytes());
    bytes.extend_from_slice(&(h as i32).to_le_bytes());
    for (a, b) in u.iter().zip(v.iter()) {
        bytes.extend_from_slice(&a.to_le_bytes());
        bytes.extend_from_slice(&b.to_le_bytes());
    }
    prism_media::atomic_write(path, |f| {
        f.write_all(&bytes).map_err(|error| prism_media::Error::Io {
            path: path.to_path_buf(),
            error,
        })
    })?;
    Ok(())
}

/// Reads a Middlebury `.flo` file back as `(u, v)`.
pub fn read_flo(path: &Path) -> Result<(Array2<f32>, Array2<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::Image {
        path: path.to_path_buf(),
        message: format!("not a .flo file: {m}"),
    };
    if bytes.len() < 12 || f32::from_le_bytes(bytes[0..4].try_into().unwrap()) != 202021.25 {
        return Err(bad("missing PIEH tag"));
    }
    let w = i32::from_le_bytes(bytes[4..8].try_into().unwrap());
    let h = i32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if w <= 0 || h <= 0 || bytes.len() != 12 + 8 * (w as usize) * (h as usize) {
        return Err(bad("size does not match the header"));
    }
    let (w, h) = (w as usize, h as usize);
    let mut u = Array2::<f32>::zeros((h, w));
    let mut v = Array2::<f32>::zeros((h, w));
    for (i, (a, b)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
        let o = 12 + 8 * i;
        *a = f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        *b = f32::from_le_bytes(bytes[o + 4..o + 8].try_into().unwrap());
    }
    Ok((u, v))
}

/// The Middlebury colour wheel (Baker et al., "A Database and Evaluation Methodology for Optical
/// Flow"): 55 hues in six ramps RY 15, YG 6, GC 4, CB 11, BM 13, MR 6.
fn colour_wheel() -> Vec<[f32; 3]> {
    let ramps: [(usize, [f32; 3], [f32; 3]); 6] = [
        (15, [255.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
        (6, [255.0, 255.0, 0.0], [-1.0, 0.0, 0.0]),
        (4, [0.0, 255.0, 0.0], [0.0, 0.0, 1.0]),
        (11, [0.0, 255.0, 255.0], [0.0, -1.0, 0.0]),
        (13, [0.0, 0.0, 255.0], [1.0, 0.0, 0.0]),
        (6, [255.0, 0.0, 255.0], [0.0, 0.0, -1.0]),
    ];
    let mut wheel = Vec::with_capacity(55);
    for (n, base, dir) in ramps {
        for i in 0..n {
            let step = 255.0 * i as f32 / n as f32;
            wheel.push([
                base[0] + dir[0] * step,
                base[1] + dir[1] * step,
                base[2] + dir[2] * step,
            ]);
        }
    }
    wheel
}

/// Colour-codes `(u, v)`: direction as hue, length relative to `max_radius` (the largest length
/// in the field when `None`) as saturation; white means no motion.
pub fn flow_to_color(u: &Array2<f32>, v: &Array2<f32>, max_radius: Option<f32>) -> RgbImage {
    let (h, w) = u.dim();
    let wheel = colour_wheel();
    let ncols = wheel.len() as f32;
    let max = max_radius.unwrap_or_else(|| {
        u.iter()
            .zip(v.iter())
            .map(|(a, b)| (a * a + b * b).sqrt())
            .filter(|r| r.is_finite())
            .fold(0.0, f32::max)
    });
    let max = if max > 0.0 { max } else { 1.0 };
    let mut img = RgbImage::new(w as u32, h as u32);
    for ((y, x), &a) in u.indexed_iter() {
        let b = v[[y, x]];
        let (fu, fv) = (a / max, b / max);
        let rad = (fu * fu + fv * fv).sqrt();
        let px = if !rad.is_finite() {
            [0, 0, 0]
        } else {
            let angle = (-fv).atan2(-fu) / std::f32::consts::PI;
            let fk = (angle + 1.0) / 2.0 * (ncols - 1.0);
            let k0 = fk.floor() as usize % wheel.len();
            let k1 = (k0 + 1) % wheel.len();
            let f = fk - fk.floor();
            let mut out = [0u8; 3];
            for c in 0..3 {
                let col = ((1.0 - f) * wheel[k0][c] + f * wheel[k1][c]) / 255.0;
                let col = if rad <= 1.0 {
                    1.0 - rad * (1.0 - col)
                } else {
                    col * 0.75
                };
                out[c] = (255.0 * col).round().clamp(0.0, 255.0) as u8;
            }
            out
        };
        img.put_pixel(x as u32, y as u32, image::Rgb(px));
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flo_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let u = Array2::from_shape_fn((3, 5), |(y, x)| x as f32 - y as f32 * 0.5);
        let v = Array2::from_shape_fn((3, 5), |(y, x)| (x * y) as f32 * 0.25);
        let path = dir.path().join("a.flo");
        write_flo(&path, &u, &v).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 12 + 8 * 15);
        let (u2, v2) = read_flo(&path).unwrap();
        assert_eq!(u, u2);
        assert_eq!(v, v2);
    }

    #[test]
    fn wheel_colours_follow_direction() {
        // Zero motion is white; +x motion is red (Middlebury convention), +y (down) is yellow.
        let z = Array2::<f32>::zeros((1, 3));
        let mut u = z.clone();
        let mut v = z.clone();
        u[[0, 1]] = 1.0;
        v[[0, 2]] = 1.0;
        let img = flow_to_color(&u, &v, Some(1.0));
        assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255]);
        let right = img.get_pixel(1, 0).0;
        assert!(right[0] > 200 && right[2] < 60, "{right:?}");
        let down = img.get_pixel(2, 0).0;
        assert!(down[0] > 200 && down[1] > 200 && down[2] < 60, "{down:?}");
    }
}
