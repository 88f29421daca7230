//! The two exported VGG19 graphs, seen from Rust: features (forward) and the vector-Jacobian
//! product (backward). See the crate documentation for the contract.

use std::path::Path;

use ndarray::{Array4, Ix4};
use prism_core::{Model, SessionOptions, Tensor};

use crate::error::{Error, Result};

/// A VGG19 feature tap, in the graphs' output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Relu1_1,
    Relu2_1,
    Relu3_1,
    Relu4_1,
    Relu5_1,
    Relu4_2,
}

impl Layer {
    /// All taps, in the order the feature graph returns them and the VJP graph takes them.
    pub const ALL: [Layer; 6] = [
        Layer::Relu1_1,
        Layer::Relu2_1,
        Layer::Relu3_1,
        Layer::Relu4_1,
        Layer::Relu5_1,
        Layer::Relu4_2,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Layer::Relu1_1 => "relu1_1",
            Layer::Relu2_1 => "relu2_1",
            Layer::Relu3_1 => "relu3_1",
            Layer::Relu4_1 => "relu4_1",
            Layer::Relu5_1 => "relu5_1",
            Layer::Relu4_2 => "relu4_2",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Layer {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Layer::ALL
            .into_iter()
            .find(|l| l.name() == s.trim())
            .ok_or_else(|| {
                format!("unknown VGG19 layer `{s}` (relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, relu4_2)")
            })
    }
}

/// Pooling of the VGG19 graphs: max (VGG's own) or average (Gatys et al.'s smoother choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pool {
    #[default]
    Max,
    Avg,
}

impl std::str::FromStr for Pool {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "max" => Ok(Pool::Max),
            "avg" | "average" => Ok(Pool::Avg),
            _ => Err(format!("unknown pooling `{s}` (max, avg)")),
        }
    }
}

impl Pool {
    /// Model ids of the feature and VJP graphs in the export manifest.
    pub fn model_ids(self) -> (&'static str, &'static str) {
        match self {
            Pool::Max => ("vgg19-features", "vgg19-vjp"),
            Pool::Avg => ("vgg19-features-avgpool", "vgg19-vjp-avgpool"),
        }
    }
}

/// Image sides must be multiples of this (four 2x2 poolings before relu5_1).
pub const VGG_MULTIPLE: usize = 16;

/// The six feature maps of one image, `[1, C, H/s, W/s]` each, in [`Layer::ALL`] order.
pub type Features = Vec<Array4<f32>>;

/// The VGG19 feature graph and its vector-Jacobian product graph, loaded as a pair.
pub struct Vgg {
    features: Model,
    vjp: Model,
    /// `prism.weights` of the feature graph: `real` or `seeded-random`.
    pub weights: String,
}

impl std::fmt::Debug for Vgg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vgg")
            .field("features", &self.features.path())
            .field("vjp", &self.vjp.path())
            .field("weights", &self.weights)
            .finish()
    }
}

impl Vgg {
    /// Loads the exported graphs of `pool` by model id (see [`Pool::model_ids`]; `hub` feature).
    #[cfg(feature = "hub")]
    pub fn load(pool: Pool, options: &SessionOptions) -> Result<Vgg> {
        use prism_hub::resolve_model;
        let (features, vjp) = pool.model_ids();
        Vgg::from_paths(&resolve_model(features)?, &resolve_model(vjp)?, options)
    }

    /// Loads a feature graph and its VJP graph from files, checking they are such graphs and share
    /// weights and pooling (the VJP file's `prism.vjp_of` names the feature graph's id).
    pub fn from_paths(features: &Path, vjp: &Path, options: &SessionOptions) -> Result<Vgg> {
        // The VJP graph exists in FP32 only; an FP16 forward would not match it.
        let mut options = options.clone();
        options.precision = prism_core::Precision::Fp32;
        // Shapes change from scale to scale, and an arena would keep every scale's high-water mark.
        options.cpu_memory_arena = false;
        let features = Model::load(features, &options)?;
        let vjp = Model::load(vjp, &options)?;
        let names: Vec<&str> = features
            .info()
            .outputs
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        let want: Vec<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
        if names != want {
            return Err(Error::BadModel {
                path: features.path().to_path_buf(),
                reason: format!(
                    "not a VGG19 feature graph: outputs are {names:?}, expected {want:?}"
                ),
            });
        }
        if vjp.info().inputs.len() != 7 || vjp.info().outputs.len() != 1 {
            return Err(Error::BadModel {
                path: vjp.path().to_path_buf(),
                reason: "not a VGG19 vector-Jacobian graph: expected inputs image + 6 feature \
                         gradients and one output"
                    .into(),
            });
        }
        let meta = |m: &Model, key: &str| m.info().metadata.get(key).cloned();
        if let (Some(of), Some(id)) = (
            meta(&vjp, "prism.vjp_of"),
            meta(&features, "prism.model_id"),
        ) && of != id
        {
            return Err(Error::BadModel {
                path: vjp.path().to_path_buf(),
                reason: format!("is the gradient of `{of}`, not of `{id}`"),
            });
        }
        let weights = meta(&features, "prism.weights").unwrap_or_else(|| "unknown".into());
        if meta(&vjp, "prism.weights").is_some_and(|w| w != weights) {
            return Err(Error::BadModel {
                path: vjp.path().to_path_buf(),
                reason: "was exported with other weights than the feature graph".into(),
            });
        }
        Ok(Vgg {
            features,
            vjp,
            weights,
        })
    }

    /// The provider the graphs run on.
    pub fn provider(&self) -> prism_core::Provider {
        self.features.provider()
    }

    /// Forward: the six feature maps of `image` (`[1, 3, H, W]`, RGB 0..1, sides multiples of 16).
    pub fn features(&mut self, image: &Array4<f32>) -> Result<Features> {
        check_size(image)?;
        let outputs = self
            .features
            .run(vec![Tensor::F32(image.clone().into_dyn())])?;
        outputs
            .into_iter()
            .map(|t| into4(t, self.features.path()))
            .collect()
    }

    /// Backward: `d/d image of sum_k <grads[k], f_k(image)>`, i.e. the image gradient of any loss
    /// whose gradient with respect to the six features is `grads` (in [`Layer::ALL`] order).
    pub fn vjp(&mut self, image: &Array4<f32>, grads: &[Array4<f32>]) -> Result<Array4<f32>> {
        check_size(image)?;
        let mut inputs = Vec::with_capacity(7);
        inputs.push(Tensor::F32(image.clone().into_dyn()));
        inputs.extend(grads.iter().map(|g| Tensor::F32(g.clone().into_dyn())));
        let mut outputs = self.vjp.run(inputs)?;
        into4(outputs.remove(0), self.vjp.path())
    }
}

fn check_size(image: &Array4<f32>) -> Result<()> {
    let (_, c, h, w) = image.dim();
    if c != 3 || h == 0 || w == 0 || h % VGG_MULTIPLE != 0 || w % VGG_MULTIPLE != 0 {
        return Err(Error::ImageSize {
            width: w as u32,
            height: h as u32,
            reason: format!(
                "VGG19 needs 3 channels and sides that are multiples of {VGG_MULTIPLE}"
            ),
        });
    }
    Ok(())
}

fn into4(t: Tensor, path: &Path) -> Result<Array4<f32>> {
    t.into_f32()
        .into_dimensionality::<Ix4>()
        .map_err(|e| Error::BadModel {
            path: path.to_path_buf(),
            reason: format!("output is not 4-D: {e}"),
        })
}
