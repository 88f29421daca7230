//! Folder batches: finding inputs, naming outputs (never over an input) and what a batch did.
//! Running one is [`crate::map::map_files`] (skips finished outputs, goes on past failing files).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Extensions of images [`crate::read_image`] decodes.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "tif", "tiff"];

/// How a batch finds its inputs and names its outputs.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Descend into sub-folders (outputs mirror the folder structure).
    pub recursive: bool,
    /// Only inputs whose path relative to the input folder matches this glob (e.g. `*.png`, `**/cat*`).
    pub glob: Option<String>,
    /// Appended to each output file stem (`photo.png` -> `photo_x4.png`).
    pub suffix: String,
    /// Output extension (format); `None` keeps the input's.
    pub extension: Option<String>,
    /// Leave outputs that already exist alone (resume an interrupted batch). Outputs are written
    /// atomically, so an existing output is always complete.
    pub skip_existing: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            recursive: false,
            glob: None,
            suffix: "_out".into(),
            extension: None,
            skip_existing: true,
        }
    }
}

/// One input file and the output it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

fn is_image(path: &Path) -> bool {
    let hidden_temp = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') && n.contains(".prism-"));
    !hidden_temp
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The input files: `input` itself when it is a file, else the images in the folder (sorted),
/// recursively if asked, filtered by the glob.
pub fn collect_inputs(input: &Path, options: &BatchOptions) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
    if !meta.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let matcher = match &options.glob {
        Some(pattern) => Some(
            globset::GlobBuilder::new(pattern)
                .literal_separator(false)
                .build()
                .map_err(|e| Error::Glob {
                    path: input.to_path_buf(),
                    pattern: pattern.clone(),
                    reason: e.kind().to_string(),
                })?
                .compile_matcher(),
        ),
        None => None,
    };
    let mut walker = walkdir::WalkDir::new(input)
        .min_depth(1)
        .sort_by_file_name();
    if !options.recursive {
        walker = walker.max_depth(1);
    }
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(input).to_path_buf();
            Error::Io {
                path,
                error: e.into(),
            }
        })?;
        if !entry.file_type().is_file() || !is_image(entry.path()) {
            continue;
        }
        let relative = entry.path().strip_prefix(input).unwrap_or(entry.path());
        if matcher
            .as_ref()
            .is_some_and(|m| !m.is_match(relative) && !m.is_match(entry.file_name()))
        {
            continue;
        }
        files.push(entry.into_path());
    }
    if files.is_empty() {
        return Err(Error::NoInputs {
            path: input.to_path_buf(),
            filtered: options.glob.is_some(),
        });
    }
    Ok(files)
}

/// `input`'s output: in `output_dir` (mirroring its place under `input_root`) or beside it, named
/// `<stem><suffix>.<extension or input's>`.
pub fn output_path(
    input: &Path,
    input_root: Option<&Path>,
    output_dir: Option<&Path>,
    suffix: &str,
    extension: Option<&str>,
) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = extension
        .map(str::to_string)
        .or_else(|| input.extension().map(|e| e.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "png".into());
    let name = format!("{stem}{suffix}.{}", ext.trim_start_matches('.'));
    let parent = input.parent().unwrap_or(Path::new(""));
    match output_dir {
        Some(dir) => {
            let relative = input_root
                .and_then(|root| parent.strip_prefix(root).ok())
                .unwrap_or(Path::new(""));
            dir.join(relative).join(name)
        }
        None => parent.join(name),
    }
}

/// The same file, even through `..` or links; for paths that do not exist yet, the canonical
/// parent folder joined with the file name.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            parent
                .canonicalize()
                .unwrap_or_else(|_| parent.to_path_buf())
                .join(name)
        }
        _ => path.to_path_buf(),
    }
}

/// Inputs and outputs for `input` (a file or a folder) and an optional `output` (a file, or a
/// folder: an existing folder, a path ending in `/`, or any path when `input` is a folder).
/// Refuses any output that is one of the inputs.
pub fn plan_jobs(input: &Path, output: Option<&Path>, options: &BatchOptions) -> Result<Vec<Job>> {
    let inputs = collect_inputs(input, options)?;
    let input_is_dir = input.is_dir();
    let output_is_dir = output.is_some_and(|o| {
        input_is_dir || o.is_dir() || o.as_os_str().to_string_lossy().ends_with('/')
    });
    let ext = options.extension.as_deref();
    let jobs: Vec<Job> = inputs
        .into_iter()
        .map(|file| {
            let output = match output {
                Some(out) if !output_is_dir => out.to_path_buf(),
                Some(dir) => output_path(
                    &file,
                    input_is_dir.then_some(input),
                    Some(dir),
                    &options.suffix,
                    ext,
                ),
                None => output_path(&file, None, None, &options.suffix, ext),
            };
            Job {
                input: file,
                output,
            }
        })
        .collect();
    let inputs: std::collections::HashSet<PathBuf> =
        jobs.iter().map(|j| canonical(&j.input)).collect();
    for job in &jobs {
        if inputs.contains(&canonical(&job.output)) {
            return Err(Error::WouldOverwriteInput {
                path: job.output.clone(),
            });
        }
    }
    Ok(jobs)
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every file was written or already done.
    Success,
    /// Some files failed, others were written.
    Partial,
    /// Every attempted file failed.
    Failed,
}

/// What happened to each file of a batch.
#[derive(Debug, Default, Clone)]
pub struct BatchReport {
    pub written: Vec<PathBuf>,
    /// Outputs that already existed (resume).
    pub skipped: Vec<PathBuf>,
    /// Inputs that failed, with the error message (which names the file).
    pub failed: Vec<(PathBuf, String)>,
}

impl BatchReport {
    pub fn outcome(&self) -> Outcome {
        match (
            self.failed.is_empty(),
            self.written.is_empty() && self.skipped.is_empty(),
        ) {
            (true, _) => Outcome::Success,
            (false, true) => Outcome::Failed,
            (false, false) => Outcome::Partial,
        }
    }

    /// `Ok` when every file succeeded; otherwise [`Error::PartialBatch`](crate::Error::PartialBatch)
    /// or [`Error::BatchFailed`](crate::Error::BatchFailed).
    pub fn check(&self) -> crate::Result<()> {
        let failed = self.failed.len();
        match self.outcome() {
            Outcome::Success => Ok(()),
            Outcome::Partial => Err(crate::Error::PartialBatch {
                failed,
                total: failed + self.written.len() + self.skipped.len(),
            }),
            Outcome::Failed => Err(crate::Error::BatchFailed { failed }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names() {
        let p = output_path(Path::new("a/b/cat.jpg"), None, None, "_x4", None);
        assert_eq!(p, Path::new("a/b/cat_x4.jpg"));
        let p = output_path(
            Path::new("in/sub/cat.jpg"),
            Some(Path::new("in")),
            Some(Path::new("out")),
            "",
            Some("png"),
        );
        assert_eq!(p, Path::new("out/sub/cat.png"));
    }

    #[test]
    fn refuses_output_equal_to_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"x").unwrap();
        let err = plan_jobs(&file, Some(&file), &BatchOptions::default()).unwrap_err();
        assert!(matches!(err, Error::WouldOverwriteInput { .. }), "{err}");
        // Empty suffix and same folder: each output would be its input.
        let options = BatchOptions {
            suffix: String::new(),
            ..BatchOptions::default()
        };
        let err = plan_jobs(dir.path(), None, &options).unwrap_err();
        assert!(matches!(err, Error::WouldOverwriteInput { .. }), "{err}");
    }

    #[test]
    fn folder_glob_recursive_and_partial_outcome() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["a.png", "b.jpg", "notes.txt", "sub/c.png"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let flat = collect_inputs(dir.path(), &BatchOptions::default()).unwrap();
        assert_eq!(flat.len(), 2);
        let options = BatchOptions {
            recursive: true,
            glob: Some("*.png".into()),
            ..BatchOptions::default()
        };
        let deep = collect_inputs(dir.path(), &options).unwrap();
        assert_eq!(deep.len(), 2, "{deep:?}");
        let out = dir.path().join("out");
        let jobs = plan_jobs(dir.path(), Some(&out), &options).unwrap();
        assert_eq!(jobs[1].output, out.join("sub/c_out.png"));
    }

    #[test]
    fn outcomes() {
        let mut report = BatchReport::default();
        report.written.push("a".into());
        assert!(report.check().is_ok());
        report.failed.push(("b".into(), "bad".into()));
        assert_eq!(report.outcome(), Outcome::Partial);
        report.written.clear();
        assert_eq!(report.outcome(), Outcome::Failed);
    }
}
