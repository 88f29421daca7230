//! Jobs: records kept in memory and in each job's folder (`job.json`, so a restarted server lists
//! them again), a queue with one worker thread per model, and change notification for the
//! progress stream.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::ServeOptions;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    Upscale,
    Interpolate,
    /// Fast (feed-forward) style.
    Style,
    /// Gatys neural style.
    Neural,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl State {
    pub fn finished(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }
}

/// A file of a job, by its name inside the job folder (`frames/00000001.png`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobFile {
    pub name: String,
    /// input, result, frame, flow, snapshot
    pub role: String,
}

/// Everything the page shows of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub task: Task,
    pub model: String,
    /// The options as the page sent them (checked).
    pub options: serde_json::Value,
    pub state: State,
    /// Progress: `done` of `total` (0 total: unknown), in `unit`.
    pub done: u64,
    pub total: u64,
    pub unit: String,
    pub message: String,
    pub error: Option<String>,
    pub files: Vec<JobFile>,
    /// Neural style: the total loss before each step.
    pub losses: Vec<f64>,
    pub created: u64,
    pub seconds: Option<f64>,
}

impl Job {
    pub fn has_file(&self, name: &str) -> bool {
        self.files.iter().any(|f| f.name == name)
    }
}

struct Entry {
    job: Job,
    changed: watch::Sender<u64>,
    cancel: Arc<AtomicBool>,
}

/// All jobs, and the queues.
pub struct Jobs {
    root: PathBuf,
    entries: Mutex<HashMap<String, Entry>>,
    queues: Mutex<HashMap<String, mpsc::Sender<String>>>,
    counter: AtomicU64,
    /// Serialises `job.json` writes, so the newest state is the one left.
    saving: Mutex<()>,
    pub(crate) options: ServeOptions,
    me: std::sync::Weak<Jobs>,
}

/// A fresh id: 16 hex digits (a per-process random key hashing a counter and the time).
fn new_id(counter: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = KEY.get_or_init(Default::default).build_hasher();
    h.write_u64(counter);
    h.write_u128(now_nanos());
    format!("{:016x}", h.finish())
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Whether `id` has the shape of a job id (so it can name a folder).
pub fn valid_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Jobs {
    /// Opens the job folder; jobs of an earlier run are listed again (unfinished ones as failed),
    /// except those created more than `options.keep_days` ago, which are deleted with old uploads.
    pub fn open(root: &Path, options: ServeOptions) -> std::io::Result<Arc<Jobs>> {
        std::fs::create_dir_all(root.join("uploads"))?;
        let cutoff = now_secs().saturating_sub(options.keep_days.saturating_mul(86_400));
        let (mut expired, mut entries) = (0, HashMap::new());
        for dir in std::fs::read_dir(root)?.flatten() {
            let id = dir.file_name().to_string_lossy().into_owned();
            if !valid_id(&id) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dir.path().join("job.json")) else {
                continue;
            };
            let Ok(mut job) = serde_json::from_str::<Job>(&text) else {
                continue;
            };
            if job.id != id {
                continue;
            }
            if job.created < cutoff {
                match std::fs::remove_dir_all(dir.path()) {
                    Ok(()) => expired += 1,
                    Err(e) => tracing::warn!("{}: {e}", dir.path().display()),
                }
                continue;
            }
            if !job.state.finished() {
                job.state = State::Failed;
                job.error = Some("the server stopped before this job finished".into());
            }
            entries.insert(
                id,
                Entry {
                    job,
                    changed: watch::channel(0).0,
                    cancel: Arc::default(),
                },
            );
        }
        expired += remove_older_files(&root.join("uploads"), cutoff);
        if expired > 0 {
            tracing::info!(
                "{}: removed {expired} jobs and uploads older than {} days",
                root.display(),
                options.keep_days
            );
        }
        Ok(Arc::new_cyclic(|me| Jobs {
            root: root.to_path_buf(),
            entries: Mutex::new(entries),
            queues: Mutex::default(),
            counter: AtomicU64::new(0),
            saving: Mutex::default(),
            options,
            me: me.clone(),
        }))
    }

    /// The job folder root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of job `id` (a checked id).
    pub fn dir(&self, id: &str) -> PathBuf {
        debug_assert!(valid_id(id));
        self.root.join(id)
    }

    /// A fresh server-made id.
    pub fn fresh_id(&self) -> String {
        new_id(self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers `job` (its folder holds its inputs) and queues it on its model's worker.
    pub fn submit(&self, job: Job) {
        let id = job.id.clone();
        let queue_key = job.model.clone();
        self.entries.lock().unwrap().insert(
            id.clone(),
            Entry {
                job,
                changed: watch::channel(0).0,
                cancel: Arc::default(),
            },
        );
        self.save(&id);
        let mut queues = self.queues.lock().unwrap();
        let sender = queues.entry(queue_key.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel::<String>();
            let jobs = self.me.upgrade().expect("jobs alive while submitting");
            std::thread::Builder::new()
                .name(format!("prism-serve {queue_key}"))
                .spawn(move || {
                    for id in rx {
                        crate::work::run(&jobs, &id);
                    }
                })
                .expect("spawning a worker thread");
            tx
        });
        let _ = sender.send(id);
    }

    /// A copy of job `id`.
    pub fn get(&self, id: &str) -> Option<Job> {
        self.entries.lock().unwrap().get(id).map(|e| e.job.clone())
    }

    /// Every job, newest first.
    pub fn list(&self) -> Vec<Job> {
        let mut all: Vec<Job> = self
            .entries
            .lock()
            .unwrap()
            .values()
            .map(|e| e.job.clone())
            .collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        all
    }

    /// A receiver that sees every change of job `id`.
    pub fn watch(&self, id: &str) -> Option<watch::Receiver<u64>> {
        self.entries
            .lock()
            .unwrap()
            .get(id)
            .map(|e| e.changed.subscribe())
    }

    /// The cancellation flag of job `id`.
    pub fn cancel_flag(&self, id: &str) -> Option<Arc<AtomicBool>> {
        self.entries
            .lock()
            .unwrap()
            .get(id)
            .map(|e| Arc::clone(&e.cancel))
    }

    /// Changes job `id` with `f` and tells the watchers; the folder's `job.json` is rewritten
    /// when `persist` (state changes, not every progress tick).
    pub fn update(&self, id: &str, persist: bool, f: impl FnOnce(&mut Job)) {
        {
            let mut entries = self.entries.lock().unwrap();
            let Some(e) = entries.get_mut(id) else { return };
            f(&mut e.job);
            e.changed.send_modify(|n| *n += 1);
        }
        if persist {
            self.save(id);
        }
    }

    /// Deletes finished job `id` and its folder; false when it is not there or not finished.
    pub fn remove(&self, id: &str) -> bool {
        // Under the save lock: no `job.json` write can land in the folder being deleted.
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut entries = self.entries.lock().unwrap();
            if !entries.get(id).is_some_and(|e| e.job.state.finished()) {
                return false;
            }
            entries.remove(id);
        }
        let dir = self.dir(id);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!("{}: {e}", dir.display());
        }
        true
    }

    /// Stops job `id`: a queued job is cancelled at once, a running one between steps.
    pub fn cancel(&self, id: &str) -> bool {
        let Some(flag) = self.cancel_flag(id) else {
            return false;
        };
        flag.store(true, Ordering::SeqCst);
        self.update(id, true, |job| {
            if job.state == State::Queued {
                job.state = State::Cancelled;
                job.message = "cancelled before it started".into();
            }
        });
        true
    }

    /// Stops every job (the server is going away): queued ones at once, running ones between
    /// steps.
    pub fn cancel_all(&self) {
        let ids: Vec<String> = self.entries.lock().unwrap().keys().cloned().collect();
        for id in ids {
            if self.get(&id).is_some_and(|j| !j.state.finished()) {
                self.cancel(&id);
            }
        }
    }

    fn save(&self, id: &str) {
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let Some(job) = self.get(id) else { return };
        let path = self.dir(id).join("job.json");
        let text = serde_json::to_string_pretty(&job).unwrap_or_default();
        let temp = path.with_file_name(".job.json.partial");
        let result = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, &path));
        if let Err(e) = result {
            tracing::warn!("{}: {e}", path.display());
        }
    }
}

/// Deletes the files in `dir` last modified before `cutoff` (seconds since 1970); returns how many.
fn remove_older_files(dir: &Path, cutoff: u64) -> usize {
    let old = |entry: &std::fs::DirEntry| {
        entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|d| d.as_secs() < cutoff)
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()) && old(e))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Seconds since 1970, for ordering jobs.
pub fn now_secs() -> u64 {
    (now_nanos() / 1_000_000_000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_checked() {
        let a = new_id(0);
        let b = new_id(1);
        assert!(valid_id(&a) && valid_id(&b) && a != b);
        for bad in [
            "../../etc/passwd",
            "0123456789ABCDEF",
            "0123",
            "0123456789abcdeg",
            "",
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
