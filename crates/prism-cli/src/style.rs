//! `prism style fast` (TransformerNet) and `prism style neural` (Gatys, Rust L-BFGS / Adam loop).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use prism_core::RuntimeOptions;
use prism_media::{MapReport, WriteOptions, map_media, read_image, write_image};
use prism_style::loss::LayerWeight;
use prism_style::{
    FastOptions, FastStep, Init, LineSearch, LossWeights, NeuralOptions, Optimizer, Pool,
    StyleImage, Vgg, neural_style,
};

use crate::global::{self, say, usage};
use crate::media_args::{BatchArgs, OutputArgs, VideoArgs, map_job, say_report};
use crate::session_args::SessionArgs;

#[derive(Args)]
pub struct StyleArgs {
    #[command(subcommand)]
    pub command: StyleCommand,
}

#[derive(Subcommand)]
pub enum StyleCommand {
    /// Instant style with a feed-forward network (26 real styles, any style image, or a
    /// TransformerNet): an image, a folder of images or a video.
    Fast(Box<FastArgs>),
    /// Gatys et al. neural style: optimises the image (VGG19 in ONNX Runtime, optimiser in Rust).
    Neural(Box<NeuralArgs>),
}

#[derive(Args)]
pub struct FastArgs {
    /// An image, a folder of images, or a video (styled frame by frame, audio kept).
    pub input: PathBuf,
    /// Output file (or folder for a folder input; default: beside each input, suffix `_<style>`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Style network: style-multistyle26 (default: 26 real styles, pick with --style), a
    /// TransformerNet (style-mosaic, style-candy, style-udnie, style-rain-princess; seeded offline)
    /// or an .onnx file (e.g. the ONNX Model Zoo's mosaic-9.onnx, at any size).
    #[arg(short, long)]
    pub model: Option<String>,
    /// multistyle26: a style index 0-25 (default 0) or a weighted blend, e.g. 3:0.5,12:0.5.
    #[arg(long)]
    pub style: Option<prism_style::StyleMix>,
    /// Any picture as the style (Magenta arbitrary stylisation, real weights); the content runs at
    /// its own size.
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["model", "style"])]
    pub style_image: Option<PathBuf>,
    /// Write all 26 multistyle26 styles on INPUT, labelled with their indices, to this file (and
    /// nothing else).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["style", "style_image", "output", "sheet"])]
    pub index_sheet: Option<PathBuf>,
    /// Shrink the input by this factor first (coarser strokes, smaller output).
    #[arg(long, default_value_t = 1.0)]
    pub content_scale: f32,
    /// 0..1. TransformerNet and multistyle26: blend the result with the content pixels.
    /// --style-image: blend the style image's style vector with the content's own (Magenta).
    #[arg(long, default_value_t = 1.0)]
    pub strength: f32,
    /// Keep the content's colours (luminance-only transfer).
    #[arg(long)]
    pub preserve_colors: bool,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub video: VideoArgs,
    /// Also write content | (style image |) result side by side, labelled, to this file.
    #[arg(long)]
    pub sheet: Option<PathBuf>,
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Args)]
pub struct NeuralArgs {
    /// The content image.
    pub content: PathBuf,
    /// A style image; repeat for several (see --blend).
    #[arg(short, long = "style", required = true)]
    pub styles: Vec<PathBuf>,
    /// Blend weights of the style images, comma separated (default: equal).
    #[arg(long, value_delimiter = ',')]
    pub blend: Vec<f32>,
    #[arg(short, long)]
    pub output: PathBuf,
    /// Long side of the result in pixels (default: the content's).
    #[arg(long)]
    pub size: Option<u32>,
    /// Optimiser steps (per scale).
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// The optimiser.
    #[arg(long, value_enum, default_value = "lbfgs")]
    pub optimizer: OptimizerArg,
    /// Learning rate (Adam, on the 0..1 image) or step length (L-BFGS); default 1 for L-BFGS and
    /// 0.02 for Adam.
    #[arg(long)]
    pub lr: Option<f32>,
    /// L-BFGS history size.
    #[arg(long, default_value_t = 100)]
    pub history: usize,
    /// L-BFGS line search: armijo (backtracking, the loss never rises) or none (PyTorch's default).
    #[arg(long, default_value = "armijo")]
    pub line_search: LineSearch,
    #[arg(long, default_value_t = prism_style::loss::CONTENT_WEIGHT)]
    pub content_weight: f64,
    #[arg(long, default_value_t = prism_style::loss::STYLE_WEIGHT)]
    pub style_weight: f64,
    /// Total variation (smoothness) weight, on the mean squared neighbour difference of the 0..1 image.
    #[arg(long, default_value_t = prism_style::loss::TV_WEIGHT)]
    pub tv_weight: f64,
    /// Content layers with optional weights, e.g. relu4_2 or relu4_2:1,relu3_1:0.5.
    #[arg(long, value_delimiter = ',', default_value = "relu4_2")]
    pub content_layers: Vec<LayerWeight>,
    /// Style layers with optional weights.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"
    )]
    pub style_layers: Vec<LayerWeight>,
    /// content, noise, or an image file.
    #[arg(long, default_value = "content")]
    pub init: String,
    /// Seed of the noise initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Style images are resized to this fraction of the result's long side.
    #[arg(long, default_value_t = 1.0)]
    pub style_scale: f32,
    /// Keep the content's colours (luminance-only transfer).
    #[arg(long)]
    pub original_colors: bool,
    /// max or avg pooling in VGG19.
    #[arg(long, default_value = "max")]
    pub pool: Pool,
    /// Coarse-to-fine levels (each half the size of the next).
    #[arg(long, default_value_t = 1)]
    pub scales: usize,
    /// Write the current image every N steps as <output stem>_<level>_<step>.png.
    #[arg(long, default_value_t = 0)]
    pub save_every: usize,
    /// Print the loss terms every N steps.
    #[arg(long, default_value_t = 25)]
    pub print_every: usize,
    /// Also write content | styles | result side by side to this file.
    #[arg(long)]
    pub sheet: Option<PathBuf>,
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OptimizerArg {
    /// L-BFGS (Gatys et al., jcjohnson/neural-style).
    #[value(alias = "l-bfgs")]
    Lbfgs,
    /// Adam.
    Adam,
}

pub fn run(args: StyleArgs, runtime: &RuntimeOptions) -> Result<()> {
    match args.command {
        StyleCommand::Fast(a) => fast(*a, runtime),
        StyleCommand::Neural(a) => neural(*a, runtime),
    }
}

/// What a run says about its network's weights (`prism.weights` or the registry's kind).
pub(crate) fn weights_note(kind: &str) -> &'static str {
    match kind {
        "real" => "real weights",
        "seeded-random" => {
            "SEEDED RANDOM weights (no real weights were available at export): not the published style"
        }
        _ => "weights of unknown origin (the file has no prism metadata and no registry entry)",
    }
}

fn fast(args: FastArgs, runtime: &RuntimeOptions) -> Result<()> {
    let options = FastOptions {
        content_scale: args.content_scale,
        strength: args.strength,
        preserve_colors: args.preserve_colors,
    };
    options.validate()?;
    let session = args.session.options(runtime);
    if let Some(sheet) = &args.index_sheet {
        return crate::style_fast::index_sheet(&args, &session, sheet);
    }
    if args.sheet.is_some() && (args.input.is_dir() || prism_media::video::is_video(&args.input)) {
        usage!(
            "--sheet is for one image; {} is not one",
            args.input.display()
        );
    }
    let mut style = crate::style_fast::open(&args, &session)?;
    let suffix = style.suffix();
    let label = style.label();
    let job = map_job(
        &args.input,
        args.output.as_deref(),
        &args.batch,
        &args.out,
        &args.video,
        suffix,
        "style",
    );
    let mut step = FastStep {
        net: &mut style,
        options,
    };
    let started = std::time::Instant::now();
    let report = map_media(&job, &mut step)?;
    say_report(&report, started)?;
    if let (Some(sheet), MapReport::Image { input, output, .. }) = (&args.sheet, &report) {
        let mut tiles = vec![(load(input)?, "content".to_string())];
        if let Some(path) = &args.style_image {
            tiles.push((load(path)?, "style image".to_string()));
        }
        tiles.push((load(output)?, label));
        let refs: Vec<_> = tiles.iter().map(|(i, l)| (i, l.clone())).collect();
        let s = prism_style::label::labelled_grid(&refs, 384, refs.len());
        write_image(sheet, &s, None, &WriteOptions::default())?;
    }
    Ok(())
}

fn load(path: &Path) -> Result<image::DynamicImage> {
    Ok(read_image(path, &global::limits())?.image)
}

fn neural(args: NeuralArgs, runtime: &RuntimeOptions) -> Result<()> {
    let content = load(&args.content)?;
    let styles: Vec<image::DynamicImage> =
        args.styles.iter().map(|p| load(p)).collect::<Result<_>>()?;
    let blend = if args.blend.is_empty() {
        vec![1.0; styles.len()]
    } else if args.blend.len() == styles.len() {
        args.blend.clone()
    } else {
        usage!(
            "--blend has {} weights for {} style images",
            args.blend.len(),
            styles.len()
        );
    };
    let optimizer = match args.optimizer {
        OptimizerArg::Lbfgs => Optimizer::Lbfgs {
            history: args.history,
            line_search: args.line_search,
            lr: args.lr.unwrap_or(1.0),
        },
        OptimizerArg::Adam => Optimizer::Adam {
            lr: args.lr.unwrap_or(0.02),
        },
    };
    let init = match args.init.as_str() {
        "content" => Init::Content,
        "noise" => Init::Noise,
        path => Init::Image(load(Path::new(path))?),
    };
    let options = NeuralOptions {
        size: args.size,
        steps: args.steps,
        optimizer,
        loss: LossWeights {
            content: args.content_weight,
            style: args.style_weight,
            tv: args.tv_weight,
            content_layers: args.content_layers.clone(),
            style_layers: args.style_layers.clone(),
        },
        init,
        seed: args.seed,
        style_scale: args.style_scale,
        original_colors: args.original_colors,
        scales: args.scales,
        snapshot_every: args.save_every,
    };
    prism_media::OutputFormat::from_path(&args.output)?;
    let mut vgg = Vgg::load(args.pool, &args.session.options(runtime))?;
    say!(
        "neural style with VGG19 ({:?} pooling) on {}: {}",
        args.pool,
        vgg.provider(),
        weights_note(&vgg.weights)
    );
    let stem = args
        .output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "style".into());
    let folder = args
        .output
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut failure: Option<anyhow::Error> = None;
    let started = std::time::Instant::now();
    let style_refs: Vec<StyleImage<'_>> = styles
        .iter()
        .zip(&blend)
        .map(|(image, &weight)| StyleImage { image, weight })
        .collect();
    let result = neural_style(&mut vgg, &content, &style_refs, &options, &mut |p| {
        if global::interrupted() {
            return std::ops::ControlFlow::Break(());
        }
        if args.print_every > 0 && (p.step % args.print_every == 0 || p.step + 1 == p.steps) {
            say!(
                "scale {}/{} {}x{} step {:>4}/{}: total {:.4e} content {:.4e} style {:.4e} tv {:.4e} ({:.1} s)",
                p.scale + 1,
                p.scales,
                p.width,
                p.height,
                p.step,
                p.steps,
                p.loss.total,
                p.loss.content,
                p.loss.style,
                p.loss.tv,
                started.elapsed().as_secs_f64()
            );
        }
        if let Some(snapshot) = p.snapshot {
            let path = folder.join(format!("{stem}_{}_{:04}.png", p.scale, p.step));
            if let Err(e) = write_image(&path, snapshot, None, &WriteOptions::default()) {
                failure = Some(e.into());
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let result = result?;
    say!(
        "final loss {:.4e} (content {:.4e}, style {:.4e}, tv {:.4e}) in {:.1} s",
        result.final_loss.total,
        result.final_loss.content,
        result.final_loss.style,
        result.final_loss.tv,
        started.elapsed().as_secs_f64()
    );
    write_image(&args.output, &result.image, None, &WriteOptions::default())
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(sheet) = &args.sheet {
        let mut row: Vec<&image::DynamicImage> = vec![&content];
        row.extend(styles.iter());
        row.push(&result.image);
        let s = prism_style::sheet::side_by_side(&row, 384);
        write_image(sheet, &s, None, &WriteOptions::default())?;
    }
    if !global::quiet() {
        println!("{}", args.output.display());
    }
    Ok(())
}
