//! `prism models`: the registry, the Hub cache and downloads.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use prism_hub::{ManagerOptions, ModelManager};

#[derive(Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Registry models and where each is available (export, Hub cache).
    List {
        /// Only models of this task (upscale, interpolate, style, features).
        #[arg(long)]
        task: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One model: registry facts, local availability and Hub metadata (when reachable).
    Info {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Download a model's Hub files into the cache and verify them (fp32 and fp16 where listed).
    Download { id: String },
    /// The Hub cache.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Search the Hub for ONNX models of a task.
    Search {
        /// Free text matched against repository ids (default: a keyword for the task).
        query: Option<String>,
        #[arg(long, default_value = "upscale")]
        task: String,
        /// Most results (1 to 1000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Cached files with their sizes.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Remove one model's repositories (a registry id or owner/name), else every repository the
    /// registry names; `--all` removes the whole cache, other tools' models included.
    Clear {
        id: Option<String>,
        /// Every repository in the cache, not only the registry's (asks first on a terminal).
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Do not ask before `--all` (required when stdin is not a terminal).
        #[arg(long, requires = "all")]
        yes: bool,
    },
}

pub fn run(args: ModelsArgs) -> Result<()> {
    let manager = ModelManager::new(ManagerOptions::default())?;
    match args.command {
        ModelsCommand::List { task, json } => list(&manager, task.as_deref(), json),
        ModelsCommand::Info { id, json } => info(&manager, &id, json),
        ModelsCommand::Download { id } => download(&manager, &id),
        ModelsCommand::Cache { command } => match command {
            CacheCommand::Ls { json } => cache_ls(&manager, json),
            CacheCommand::Clear { id, all, yes } => cache_clear(&manager, id.as_deref(), all, yes),
        },
        ModelsCommand::Search {
            query,
            task,
            limit,
            json,
        } => search(&manager, query, &task, limit.into(), json),
    }
}

/// `pass 41.3 dB, p99.9 2.1/255` for the table (`pass SSIM 0.991, ...` where SSIM is the gate).
fn gate_text(gate: &serde_json::Value) -> String {
    let ssim = match (gate["ssim_floor"].as_f64(), gate["ssim"].as_f64()) {
        (Some(_), Some(ssim)) => format!("SSIM {ssim:.3}, "),
        _ => String::new(),
    };
    match (
        gate["passed"].as_bool(),
        gate["psnr_db"].as_f64(),
        gate["p999_abs_255"].as_f64(),
    ) {
        (Some(passed), Some(psnr), Some(p999)) => format!(
            "{} {ssim}{psnr:.1} dB, p99.9 {p999:.1}/255",
            if passed { "pass" } else { "FAIL" }
        ),
        _ => "-".into(),
    }
}

fn list(manager: &ModelManager, task: Option<&str>, json: bool) -> Result<()> {
    let rows = manager.list(task)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<32} {:<12} {:<6} {:<10} {:<20} {:<14} {:<22} int8 gate (CPU)",
        "id", "task", "scale", "precision", "sources", "weights", "available"
    );
    for r in rows {
        let join = |k: &str| {
            r[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        let available = join("available");
        println!(
            "{:<32} {:<12} {:<6} {:<10} {:<20} {:<14} {:<22} {}",
            r["id"].as_str().unwrap_or(""),
            r["task"].as_str().unwrap_or(""),
            r["scale"]
                .as_u64()
                .map(|s| format!("x{s}"))
                .unwrap_or_default(),
            join("precisions"),
            join("sources"),
            r["weights"]["kind"].as_str().unwrap_or(""),
            if available.is_empty() {
                "-".into()
            } else {
                available
            },
            gate_text(&r["int8_gate"]),
        );
    }
    Ok(())
}

fn info(manager: &ModelManager, id: &str, json: bool) -> Result<()> {
    let entry = manager.entry(id)?;
    let hub = manager.hub()?;
    let mut remote = Vec::new();
    for (v, f) in entry.hub_files() {
        let meta = hub
            .info(&f.repo, Some(&f.revision))
            .map_err(|e| e.to_string());
        remote.push(serde_json::json!({
            "precision": v.precision, "repo": f.repo, "revision": f.revision, "file": f.file,
            "pinned": f.is_pinned(), "sha256": v.sha256, "cached": hub.cached(f),
            "hub": match &meta { Ok(m) => serde_json::to_value(m)?, Err(e) => serde_json::json!({"unreachable": e}) },
        }));
    }
    let report = serde_json::json!({
        "entry": entry, "exported": manager.exported_path(entry), "hub_files": remote,
        "cache": hub.cache().root, "endpoint": hub.endpoint(), "offline": hub.offline(),
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{}  ({}, {}{})",
        entry.id,
        entry.task,
        entry.architecture,
        entry.scale.map(|s| format!(", x{s}")).unwrap_or_default()
    );
    println!("  {}", entry.description);
    println!("  licence: {}", entry.license);
    println!(
        "  weights: {} ({})",
        entry.weights.kind, entry.weights.source
    );
    for u in &entry.upstream {
        println!(
            "  official weights{}: {} ({} bytes, sha256 {})",
            u.role
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default(),
            u.url,
            u.size.map(|s| s.to_string()).unwrap_or("?".into()),
            u.sha256.as_deref().unwrap_or("unknown"),
        );
    }
    if !entry.upstream.is_empty() {
        println!(
            "    convert them: python -m prism_export export {} --download",
            entry.id
        );
    }
    let io = &entry.io;
    if !io.inputs.is_empty() {
        println!(
            "  inputs: {}  outputs: {}",
            io.inputs.join(", "),
            io.outputs.join(", ")
        );
    }
    if let Some(r) = &io.value_range {
        println!("  value range: {r}");
    }
    if let Some(p) = io.pad_multiple {
        println!("  pad multiple: {p}");
    }
    if let Some(t) = io.tile {
        println!("  fixed tile: {t}x{t}");
    }
    match manager.exported_path(entry) {
        Some(p) => println!("  export: {}", p.display()),
        None if entry.exported() => println!(
            "  export: not exported (python -m prism_export export {})",
            entry.id
        ),
        None => {}
    }
    for r in &report["hub_files"].as_array().cloned().unwrap_or_default() {
        println!(
            "  hub {}: {}@{} {}{}",
            r["precision"].as_str().unwrap_or(""),
            r["repo"].as_str().unwrap_or(""),
            r["revision"].as_str().unwrap_or(""),
            r["file"].as_str().unwrap_or(""),
            if r["pinned"].as_bool() == Some(true) {
                ""
            } else {
                "  (unpinned)"
            },
        );
        match r["cached"].as_str() {
            Some(p) => println!("    cached: {p}"),
            None => println!("    not cached"),
        }
        let h = &r["hub"];
        if let Some(e) = h["unreachable"].as_str() {
            println!("    Hub: {e}");
        } else {
            println!(
                "    Hub: commit {}  downloads {}  likes {}  licence {}",
                h["sha"].as_str().unwrap_or("?"),
                h["downloads"]
                    .as_u64()
                    .map(|d| d.to_string())
                    .unwrap_or("?".into()),
                h["likes"]
                    .as_u64()
                    .map(|d| d.to_string())
                    .unwrap_or("?".into()),
                h["license"].as_str().unwrap_or("?"),
            );
        }
    }
    Ok(())
}

fn download(manager: &ModelManager, id: &str) -> Result<()> {
    for got in manager.download(id)? {
        let f = &got.file;
        println!(
            "{id} {}: {} ({} bytes, sha256 {}{}{})",
            got.precision,
            f.path.display(),
            f.size,
            f.sha256.as_deref().unwrap_or("unknown"),
            if f.cached { ", already cached" } else { "" },
            if f.resumed_from > 0 {
                format!(", resumed at {}", f.resumed_from)
            } else {
                String::new()
            },
        );
        if let Some(revision) = &got.unpinned_revision {
            eprintln!("warning: {id} is not pinned to a commit (revision `{revision}`)");
        }
    }
    Ok(())
}

fn cache_ls(manager: &ModelManager, json: bool) -> Result<()> {
    let cache = manager.hub()?.cache().clone();
    let (files, partials) = cache.list()?;
    let total = files.iter().map(|f| f.size).fold(0, u64::saturating_add);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "cache": cache.root, "files": files, "partial": partials, "total_bytes": total,
            }))?
        );
        return Ok(());
    }
    println!("cache: {}", cache.root.display());
    for f in &files {
        let ids: Vec<&str> = manager
            .registry()
            .models
            .iter()
            .filter(|m| {
                m.hub_files()
                    .any(|(_, h)| h.repo == f.repo && h.file == f.file)
            })
            .map(|m| m.id.as_str())
            .collect();
        println!(
            "{:>10}  {}@{} {}{}{}",
            human(f.size),
            f.repo,
            &f.commit[..f.commit.len().min(12)],
            f.file,
            if f.refs.is_empty() {
                String::new()
            } else {
                format!(" [{}]", f.refs.join(","))
            },
            if ids.is_empty() {
                String::new()
            } else {
                format!("  ({})", ids.join(", "))
            },
        );
    }
    for p in &partials {
        println!(
            "{:>10}  {} partial download {}",
            human(p.size),
            p.repo,
            p.path.display()
        );
    }
    println!("{:>10}  total ({} files)", human(total), files.len());
    Ok(())
}

fn cache_clear(manager: &ModelManager, id: Option<&str>, all: bool, yes: bool) -> Result<()> {
    let cache = manager.hub()?.cache().clone();
    if all {
        let repos = cache.repos();
        if !yes && !confirm_all(&cache, repos.len())? {
            println!("nothing removed");
            return Ok(());
        }
        let freed = cache.clear_all()?;
        println!(
            "freed {} from {} ({} repositories)",
            human(freed),
            cache.root.display(),
            repos.len()
        );
        return Ok(());
    }
    let mut repos: Vec<String> = match id {
        Some(id) => match manager.registry().get(id) {
            Some(e) => e.hub_files().map(|(_, f)| f.repo.clone()).collect(),
            None if id.contains('/') => vec![id.to_string()],
            None => bail!("`{id}` is neither a registry id nor an owner/name repository"),
        },
        None => manager
            .registry()
            .models
            .iter()
            .flat_map(|e| e.hub_files().map(|(_, f)| f.repo.clone()))
            .collect(),
    };
    repos.sort();
    repos.dedup();
    let mut freed = 0;
    for repo in &repos {
        freed = cache.clear_repo(repo)?.saturating_add(freed);
    }
    println!("freed {} from {}", human(freed), cache.root.display());
    if id.is_none() {
        let others = cache.repos().len();
        if others > 0 {
            println!(
                "kept {others} repositories the registry does not name (`--all` removes them too)"
            );
        }
    }
    Ok(())
}

/// Asks on the terminal before `--all`; refuses (exit 2) when stdin is not a terminal.
fn confirm_all(cache: &prism_hub::Cache, repos: usize) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(prism_hub::Error::Usage(format!(
            "`prism models cache clear --all` removes all {repos} repositories in {}, other tools' models included; pass --yes to confirm (stdin is not a terminal to ask)",
            cache.root.display()
        ))
        .into());
    }
    eprint!(
        "remove all {repos} repositories in {}, other tools' models included? [y/N] ",
        cache.root.display()
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn search(
    manager: &ModelManager,
    query: Option<String>,
    task: &str,
    limit: usize,
    json: bool,
) -> Result<()> {
    let query = query.unwrap_or_else(|| {
        match task {
            "upscale" => "esrgan",
            "interpolate" => "rife",
            "style" => "style-transfer",
            _ => "vgg19",
        }
        .to_string()
    });
    let found = manager.hub()?.search(&query, Some("onnx"), limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    for m in found {
        println!(
            "{:<50} downloads {:>8}  likes {:>5}  {}",
            m.id,
            m.downloads.unwrap_or(0),
            m.likes.unwrap_or(0),
            m.pipeline_tag.unwrap_or_default()
        );
    }
    Ok(())
}

/// `prism info`'s line on where a model's weights come from: the file's `prism.weights` metadata,
/// else the registry entry of `arg` when it is a registry id.
/// Where a model's weights come from: the file's `prism.weights` metadata, else the registry entry
/// of `arg` (files without prism metadata, such as the ONNX Model Zoo's); `None` if neither knows.
pub fn provenance(
    arg: &str,
    metadata: &std::collections::BTreeMap<String, String>,
) -> Option<prism_hub::Provenance> {
    if let Some(kind) = metadata.get("prism.weights") {
        let source = metadata
            .get("prism.weights_source")
            .cloned()
            .unwrap_or_else(|| "source not recorded".into());
        return Some(prism_hub::Provenance {
            kind: kind.clone(),
            source,
        });
    }
    match prism_hub::Registry::load_default() {
        Ok(r) => r.get(arg).map(|e| e.weights.clone()),
        Err(e) => {
            tracing::warn!(error = %e, "model registry unreadable");
            None
        }
    }
}

/// [`provenance`] as one line of text.
pub fn weights_line(arg: &str, metadata: &std::collections::BTreeMap<String, String>) -> String {
    match provenance(arg, metadata) {
        Some(w) => format!("{} ({})", w.kind, w.source),
        None => "unknown (no prism.weights metadata and not a registry id)".to_string(),
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::gate_text;

    #[test]
    fn gate_text_names_ssim_where_it_is_the_gate() {
        let sr = serde_json::json!({"passed": true, "psnr_db": 41.26, "p999_abs_255": 2.14,
                                    "ssim": 0.99, "ssim_floor": null});
        assert_eq!(gate_text(&sr), "pass 41.3 dB, p99.9 2.1/255");
        let style = serde_json::json!({"passed": false, "psnr_db": 30.04, "p999_abs_255": 30.0,
                                       "ssim": 0.9625, "ssim_floor": 0.98});
        assert_eq!(
            gate_text(&style),
            "FAIL SSIM 0.963, 30.0 dB, p99.9 30.0/255"
        );
        assert_eq!(gate_text(&serde_json::Value::Null), "-");
    }
}
