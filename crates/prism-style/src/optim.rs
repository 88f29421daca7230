//! The optimisers of the neural-style loop, on flat `f32` parameter vectors.
//!
//! Both follow PyTorch's `torch.optim` update rules exactly (same defaults, same order of
//! operations), so a loop driven by them can be compared step by step with a PyTorch one. Dot
//! products are accumulated in `f64`.

use std::collections::VecDeque;

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// Adam (Kingma & Ba), as `torch.optim.Adam` without weight decay or amsgrad.
#[derive(Debug, Clone)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    step: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    pub fn new(lr: f32, len: usize) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    /// One update of `x` from its gradient `g`.
    pub fn step(&mut self, x: &mut [f32], g: &[f32]) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step);
        let bc2 = 1.0 - self.beta2.powi(self.step);
        let step_size = self.lr / bc1;
        let bc2_sqrt = bc2.sqrt();
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        for (((x, &g), m), v) in x.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / bc2_sqrt + eps;
            *x -= step_size * *m / denom;
        }
    }
}

/// How L-BFGS picks the step length along its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineSearch {
    /// Backtracking until the Armijo sufficient-decrease condition holds (halving the step, at
    /// most 20 times): every accepted step lowers the loss.
    #[default]
    Armijo,
    /// No line search: a fixed step `lr` (PyTorch's `torch.optim.LBFGS` default and Torch's
    /// `optim.lbfgs` in neural-style); the loss may rise on some steps.
    Fixed,
}

impl std::str::FromStr for LineSearch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "armijo" | "backtracking" => Ok(LineSearch::Armijo),
            "none" | "fixed" => Ok(LineSearch::Fixed),
            _ => Err(format!("unknown line search `{s}` (armijo, none)")),
        }
    }
}

/// Limited-memory BFGS: PyTorch's two-loop recursion (`torch.optim.LBFGS`: the curvature pair is
/// kept only when `yᵀs > 1e-10`, the initial Hessian is `yᵀs / yᵀy`, and the very first step is
/// `min(1, 1/‖g‖₁)·lr` along `−g`).
#[derive(Debug, Clone)]
pub struct Lbfgs {
    pub lr: f32,
    pub history: usize,
    old_dirs: VecDeque<Vec<f32>>,
    old_steps: VecDeque<Vec<f32>>,
    ro: VecDeque<f64>,
    h_diag: f64,
    prev_grad: Option<Vec<f32>>,
    /// The last step taken: `t·d`.
    last_step: Vec<f32>,
}

impl Lbfgs {
    pub fn new(lr: f32, history: usize) -> Lbfgs {
        Lbfgs {
            lr,
            history: history.max(1),
            old_dirs: VecDeque::new(),
            old_steps: VecDeque::new(),
            ro: VecDeque::new(),
            h_diag: 1.0,
            prev_grad: None,
            last_step: Vec::new(),
        }
    }

    /// The search direction at gradient `g` (updating the curvature history with the change
    /// since the previous call) and the initial step length along it.
    pub fn direction(&mut self, g: &[f32]) -> (Vec<f32>, f32) {
        let Some(prev) = self.prev_grad.as_mut() else {
            self.prev_grad = Some(g.to_vec());
            let l1: f64 = g.iter().map(|v| f64::from(v.abs())).sum();
            let t = (1.0f64).min(1.0 / l1) as f32 * self.lr;
            return (g.iter().map(|v| -v).collect(), t);
        };
        let y: Vec<f32> = g.iter().zip(prev.iter()).map(|(a, b)| a - b).collect();
        prev.copy_from_slice(g);
        let s = std::mem::take(&mut self.last_step);
        let ys = dot(&y, &s);
        if ys > 1e-10 {
            if self.old_dirs.len() == self.history {
                self.old_dirs.pop_front();
                self.old_steps.pop_front();
                self.ro.pop_front();
            }
            self.h_diag = ys / dot(&y, &y);
            self.old_dirs.push_back(y);
            self.old_steps.push_back(s);
            self.ro.push_back(1.0 / ys);
        }
        let n = self.old_dirs.len();
        let mut al = vec![0.0f64; n];
        let mut q: Vec<f32> = g.iter().map(|v| -v).collect();
        for i in (0..n).rev() {
            al[i] = dot(&self.old_steps[i], &q) * self.ro[i];
            let a = al[i] as f32;
            for (q, &y) in q.iter_mut().zip(&self.old_dirs[i]) {
                *q -= a * y;
            }
        }
        let h = self.h_diag as f32;
        let mut r: Vec<f32> = q.iter().map(|v| v * h).collect();
        for i in 0..n {
            let be = dot(&self.old_dirs[i], &r) * self.ro[i];
            let a = (al[i] - be) as f32;
            for (r, &s) in r.iter_mut().zip(&self.old_steps[i]) {
                *r += a * s;
            }
        }
        (r, self.lr)
    }

    /// Records the step `t·d` that was taken, for the next curvature pair.
    pub fn taken(&mut self, d: &[f32], t: f32) {
        self.last_step = d.iter().map(|v| v * t).collect();
    }
}

/// `gᵀd`, for the line search's sufficient-decrease test.
pub fn directional_derivative(g: &[f32], d: &[f32]) -> f64 {
    dot(g, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock in 2-D: both optimisers must reach the minimum at (1, 1).
    fn rosen(x: &[f32], g: &mut [f32]) -> f64 {
        let (a, b) = (f64::from(x[0]), f64::from(x[1]));
        g[0] = (-2.0 * (1.0 - a) - 400.0 * a * (b - a * a)) as f32;
        g[1] = (200.0 * (b - a * a)) as f32;
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn lbfgs_with_armijo_minimises_rosenbrock_monotonically() {
        let mut x = vec![-1.2f32, 1.0];
        let mut g = vec![0.0; 2];
        let mut f = rosen(&x, &mut g);
        let mut opt = Lbfgs::new(1.0, 10);
        for _ in 0..200 {
            let (d, mut t) = opt.direction(&g);
            let gtd = directional_derivative(&g, &d);
            if gtd > -1e-12 {
                break;
            }
            loop {
                let trial: Vec<f32> = x.iter().zip(&d).map(|(x, d)| x + t * d).collect();
                let mut gt = vec![0.0; 2];
                let ft = rosen(&trial, &mut gt);
                if ft <= f + 1e-4 * f64::from(t) * gtd || t < 1e-10 {
                    assert!(ft <= f);
                    opt.taken(&d, t);
                    (x, g, f) = (trial, gt, ft);
                    break;
                }
                t *= 0.5;
            }
        }
        assert!(f < 1e-6, "f = {f}, x = {x:?}");
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut x = vec![3.0f32, -2.0];
        let mut opt = Adam::new(0.1, 2);
        for _ in 0..500 {
            let g = [2.0 * x[0], 8.0 * x[1]];
            opt.step(&mut x, &g);
        }
        assert!(x[0].abs() < 1e-2 && x[1].abs() < 1e-2, "{x:?}");
    }
}
