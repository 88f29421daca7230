//! Which feed-forward network `prism style fast` runs: the 26-style network (default), the Magenta
//! arbitrary pair (`--style-image`), or a TransformerNet (`--model style-mosaic` or an .onnx file).

use std::path::Path;

use anyhow::Result;
use prism_core::{ModelInfo, SessionOptions};
use prism_hub::{Registry, resolve_model};
use prism_media::{WriteOptions, read_image, write_image};
use prism_style::multistyle::is_multistyle;
use prism_style::{Arbitrary, FastStyle, FeedForward, MultiStyle, StyleMix};

use crate::global::{self, say};
use crate::style::{FastArgs, weights_note};

/// The default network: 26 real styles.
pub const MULTISTYLE: &str = "style-multistyle26";
/// The Magenta arbitrary-style pair.
pub const PREDICT: &str = "style-arbitrary-predict";
pub const TRANSFORM: &str = "style-arbitrary-transform";

/// The registry entry of `arg`, if it is a registry id (a broken registry is logged, not fatal here).
fn registry_entry(arg: &str) -> Option<prism_hub::ModelEntry> {
    match Registry::load_default() {
        Ok(r) => r.get(arg).cloned(),
        Err(e) => {
            tracing::warn!(error = %e, "model registry unreadable");
            None
        }
    }
}

/// `id: description (licence)` from the registry, or the file for a path.
fn describe(arg: &str) -> String {
    match registry_entry(arg) {
        Some(m) => format!("{}: {} ({})", m.id, m.description, m.license),
        None => format!("{arg} (a file, not a registry model)"),
    }
}

/// Loads the network the arguments ask for and says which it is (one line on stderr).
pub fn open(args: &FastArgs, options: &SessionOptions) -> Result<FeedForward> {
    if let Some(style_image) = &args.style_image {
        let style = read_image(style_image, &global::limits())?.image;
        let net = Arbitrary::load(
            &resolve_model(PREDICT)?,
            &resolve_model(TRANSFORM)?,
            options,
        )?;
        let name = style_image
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "style".into());
        let ff = FeedForward::arbitrary(net, &style, &name)?;
        say!(
            "{} on {}: {} + {}; --strength {} blends the style image's vector with the content's own",
            ff.label(),
            ff.provider(),
            describe(PREDICT),
            describe(TRANSFORM),
            args.strength
        );
        return Ok(ff);
    }
    let id = args.model.as_deref().unwrap_or(MULTISTYLE);
    let path = resolve_model(id)?;
    if is_multistyle(&ModelInfo::inspect(&path)?) {
        let mix = match &args.style {
            Some(mix) => mix.clone(),
            None => StyleMix::one(0)?,
        };
        let net = MultiStyle::load(&path, options)?;
        let ff = FeedForward::Multi { net, mix };
        say!("{} on {}: {}", ff.label(), ff.provider(), describe(id));
        return Ok(ff);
    }
    if let Some(style) = &args.style {
        return Err(prism_style::Error::Options(format!(
            "--style {} picks one of multistyle26's 26 styles, but `{id}` is a single-style network",
            style.label()
        ))
        .into());
    }
    let mut net = FastStyle::load(&path, options)?;
    if net.weights == "unknown" {
        // Files without prism metadata (the ONNX Model Zoo's) are known by their registry entry.
        if let Some(m) = registry_entry(id) {
            net.weights = m.weights.kind.clone();
        }
    }
    let note = weights_note(&net.weights);
    let real = net.weights == "real";
    let ff = FeedForward::Transformer(net);
    // Weights that are not the published ones are said even with -q.
    if real && global::quiet() {
        return Ok(ff);
    }
    eprintln!(
        "{} on {}: {}; {note}",
        ff.label(),
        ff.provider(),
        describe(id)
    );
    Ok(ff)
}

/// All 26 styles of the multistyle network on `input`, labelled with their indices.
pub fn index_sheet(args: &FastArgs, options: &SessionOptions, sheet: &Path) -> Result<()> {
    let id = args.model.as_deref().unwrap_or(MULTISTYLE);
    let mut net = MultiStyle::load(&resolve_model(id)?, options)?;
    say!("index sheet of {} on {}", describe(id), net.provider());
    let image = read_image(&args.input, &global::limits())?.image;
    let out = net.index_sheet(&image, 160)?;
    global::check_interrupted()?;
    write_image(sheet, &out, None, &WriteOptions::default())?;
    if !global::quiet() {
        println!("{}", sheet.display());
    }
    Ok(())
}
