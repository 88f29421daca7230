//! What an abrupt exit must undo. Temporary outputs and ffmpeg children are registered here while
//! they exist; [`abort`] (a second Ctrl-C, SIGTERM) kills the children, deletes the files and exits.
//! A graceful stop needs none of this: each writer cleans up after itself when it is dropped.
//! Files left by a process that was killed outright (SIGKILL) go at the next run:
//! [`remove_stale_partials`].

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard};

struct Registry {
    next: u64,
    temps: BTreeMap<u64, PathBuf>,
    children: BTreeMap<u64, u32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    temps: BTreeMap::new(),
    children: BTreeMap::new(),
});

fn lock() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    fn add(&mut self, temp: Option<&Path>, child: Option<u32>) -> Registered {
        let id = self.next;
        self.next += 1;
        if let Some(temp) = temp {
            self.temps.insert(id, temp.to_path_buf());
        }
        if let Some(pid) = child {
            self.children.insert(id, pid);
        }
        Registered(id)
    }
}

/// A registered temporary file or child process; forgotten when dropped.
#[must_use]
#[derive(Debug)]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = lock();
        registry.temps.remove(&self.0);
        registry.children.remove(&self.0);
    }
}

/// Creates `temp` for writing and registers it in one step, so [`abort`] never misses it.
pub fn create_temp(temp: &Path) -> std::io::Result<(File, Registered)> {
    let mut registry = lock();
    let file = File::create(temp)?;
    Ok((file, registry.add(Some(temp), None)))
}

/// Puts `command`'s process in a group of its own: a terminal's Ctrl-C then reaches Prism only,
/// which stops the child itself.
pub fn own_process_group(command: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    command
}

/// Spawns `command` in a process group of its own and registers it with the temporary file it
/// writes, if any.
pub fn spawn(command: &mut Command, temp: Option<&Path>) -> std::io::Result<(Child, Registered)> {
    own_process_group(command);
    let mut registry = lock();
    let child = command.spawn()?;
    let registered = registry.add(temp, Some(child.id()));
    Ok((child, registered))
}

/// Kills the registered children, deletes the registered temporary files and exits with `code`.
/// The registry stays locked until the process is gone, so nothing new starts meanwhile.
pub fn abort(code: i32) -> ! {
    let registry = lock();
    for &pid in registry.children.values() {
        stop_child(pid);
    }
    for path in registry.temps.values() {
        let _ = std::fs::remove_file(path);
    }
    std::process::exit(code)
}

#[cfg(unix)]
fn stop_child(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: plain system calls on a child this process spawned; waiting makes sure it has
    // stopped writing before its file is deleted (ECHILD if another thread reaped it: fine).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

#[cfg(not(unix))]
fn stop_child(_pid: u32) {}

/// This machine's name as temporary names carry it (letters, digits, `-` and `_` only, at most
/// 40), so that in a folder shared by several machines or containers (a Ray cluster's NFS volume)
/// only this machine's dead processes are taken for dead.
pub(crate) fn host_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let tag: String = host_name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        if tag.is_empty() {
            "host".to_string()
        } else {
            tag
        }
    })
}

#[cfg(unix)]
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is NUL-terminated within it or cut off.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(not(unix))]
fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// The host tag and process id in a temporary name made by [`crate::image_io::temp_path`]
/// (`.<name>.prism-<host>-<pid>-<n>.partial[.<ext>]`).
fn partial_owner(name: &str) -> Option<(&str, u32)> {
    if !name.starts_with('.') {
        return None;
    }
    let rest = &name[name.rfind(".prism-")? + ".prism-".len()..];
    let rest = &rest[..rest.find(".partial")?];
    let mut parts = rest.rsplitn(3, '-');
    parts.next()?.parse::<u64>().ok()?;
    let pid = parts.next()?.parse().ok()?;
    Some((parts.next().filter(|h| !h.is_empty())?, pid))
}

#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

/// Deletes temporary files in `dir` left by Prism processes of this machine that no longer run
/// (killed outright while writing). Returns how many went; unreadable folders are left alone.
pub fn remove_stale_partials(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((host, pid)) = name.to_str().and_then(partial_owner) else {
            continue;
        };
        if host == host_tag()
            && pid != std::process::id()
            && !alive(pid)
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(
            "{}: removed {removed} temporary files of an earlier run that was killed",
            dir.display()
        );
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_of_temporary_names() {
        assert_eq!(
            partial_owner(".a.png.prism-node-1-123-4.partial.png"),
            Some(("node-1", 123))
        );
        assert_eq!(
            partial_owner(".clip.mp4.prism-h-9-0.partial.mp4"),
            Some(("h", 9))
        );
        assert_eq!(partial_owner("a.png"), None);
        assert_eq!(partial_owner(".a.prism-h-x-1.partial"), None);
        assert_eq!(partial_owner(".a.prism-123-4.partial"), None); // no host: left alone
        let ours = crate::image_io::temp_path(Path::new("/d/out.png"));
        let ours = ours.file_name().unwrap().to_str().unwrap();
        assert_eq!(partial_owner(ours), Some((host_tag(), std::process::id())));
    }

    #[cfg(unix)]
    #[test]
    fn stale_partials_of_dead_processes_go_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has exited: its pid is free (reuse within the test is very unlikely).
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let host = host_tag();
        let stale = dir
            .path()
            .join(format!(".a.png.prism-{host}-{dead}-0.partial.png"));
        let ours = dir.path().join(format!(
            ".b.png.prism-{host}-{}-0.partial.png",
            std::process::id()
        ));
        // Another machine's process with that pid may well be alive: its file stays.
        let other_host = dir
            .path()
            .join(format!(".d.png.prism-{host}x-{dead}-0.partial.png"));
        let output = dir.path().join("c.png");
        for p in [&stale, &ours, &other_host, &output] {
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_partials(dir.path()), 1);
        assert!(!stale.exists() && ours.exists() && other_host.exists() && output.exists());
    }
}
