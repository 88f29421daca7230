//! `prism serve`: one local web page that runs upscaling, frame interpolation and style transfer
//! through the same library calls as the `prism` command, with a job queue (one worker per
//! model), live progress (server-sent events) and results kept in a job folder.
//!
//! Safety: only files of the server's own job folder are ever read or written for a request; job
//! ids and file names are the server's; requests whose `Host` or `Origin` is not this server's are
//! refused (so no other web page can drive it, DNS rebinding included); a token guards
//! non-loopback binding; uploads have a size and a pixel limit.

mod jobs;
mod request;
mod routes;
mod security;
mod work;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prism_core::{ErrorKind, SessionOptions};
use prism_media::Limits;

pub use jobs::Task;

/// Default most bytes of one upload.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 64 << 20;
/// Default most pixels of one uploaded image (a 8K frame; the command's default is Pillow's).
pub const DEFAULT_MAX_UPLOAD_PIXELS: u64 = 7680 * 4320;

/// What `prism serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind (default 127.0.0.1).
    pub bind: IpAddr,
    /// Port (0: any free one).
    pub port: u16,
    /// Extra host names the page may be reached by (besides localhost and the bound address).
    pub hosts: Vec<String>,
    /// Required from every request when set (header, cookie or `?token=`); mandatory for a
    /// non-loopback address.
    pub token: Option<String>,
    /// Where jobs keep their inputs and results.
    pub jobs_dir: PathBuf,
    /// Session options of every model the jobs load (device, precision, threads).
    pub session: SessionOptions,
    pub max_upload_bytes: usize,
    /// Decoding limit of uploads and of the jobs' reads.
    pub limits: Limits,
    /// Jobs created more than this many days ago, and uploads as old, are deleted when the server
    /// starts (the job folder is a cache, not an archive).
    pub keep_days: u64,
}

/// How long jobs and uploads are kept by default, in days.
pub const DEFAULT_KEEP_DAYS: u64 = 14;

impl ServeOptions {
    /// Defaults: 127.0.0.1, a free port, no token, `jobs_dir` as given.
    pub fn new(jobs_dir: PathBuf) -> ServeOptions {
        ServeOptions {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            hosts: Vec::new(),
            token: None,
            jobs_dir,
            session: SessionOptions::default(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            limits: Limits {
                max_pixels: DEFAULT_MAX_UPLOAD_PIXELS,
            },
            keep_days: DEFAULT_KEEP_DAYS,
        }
    }
}

/// The default job folder: `$PRISM_CACHE_DIR/serve` or the OS cache folder's `prism/serve`.
pub fn default_jobs_dir() -> PathBuf {
    prism_core::session::default_cache_dir().join("serve")
}

/// Errors of starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Options(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("job folder {path}: {source}")]
    JobsDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Bad options are usage errors; the rest (bind, I/O) are failures (exit 1).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Options(_) => ErrorKind::Usage,
            _ => ErrorKind::Failed,
        }
    }
}

/// A bound server, not yet serving.
pub struct Server {
    listener: std::net::TcpListener,
    state: Arc<routes::AppState>,
    url: String,
}

impl Server {
    /// Checks the options, prepares the job folder (earlier jobs are listed again) and binds.
    pub fn bind(options: ServeOptions) -> Result<Server, Error> {
        if !options.bind.is_loopback() && options.token.is_none() {
            return Err(Error::Options(format!(
                "binding {} (not a loopback address) needs --token: anyone on the network could otherwise run jobs",
                options.bind
            )));
        }
        if let Some(t) = &options.token
            && (t.len() < 16
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)))
        {
            return Err(Error::Options(
                "--token must be at least 16 characters of A-Z a-z 0-9 - _ . ~".into(),
            ));
        }
        for h in &options.hosts {
            if h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
            {
                return Err(Error::Options(format!(
                    "--host {h:?}: expected a host name (letters, digits, - and .)"
                )));
            }
        }
        std::fs::create_dir_all(&options.jobs_dir).map_err(|source| Error::JobsDir {
            path: options.jobs_dir.clone(),
            source,
        })?;
        let addr = SocketAddr::new(options.bind, options.port);
        let listener =
            std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let host = match local.ip() {
            IpAddr::V4(ip) if ip.is_loopback() => format!("127.0.0.1:{}", local.port()),
            IpAddr::V6(ip) => format!("[{ip}]:{}", local.port()),
            ip => format!("{ip}:{}", local.port()),
        };
        let url = format!("http://{host}/");
        let jobs = jobs::Jobs::open(&options.jobs_dir, options.clone()).map_err(|source| {
            Error::JobsDir {
                path: options.jobs_dir.clone(),
                source,
            }
        })?;
        let policy = security::Policy::new(&options, local);
        let state = Arc::new(routes::AppState {
            jobs,
            policy,
            options,
        });
        Ok(Server {
            listener,
            state,
            url,
        })
    }

    /// The page's address (`http://127.0.0.1:PORT/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address to open in a browser: with `?token=` when a token is set.
    pub fn open_url(&self) -> String {
        match &self.state.options.token {
            Some(t) => format!("{}?token={t}", self.url),
            None => self.url.clone(),
        }
    }

    /// Serves until `stop` is set (checked every 200 ms; Ctrl-C), then cancels running jobs
    /// between their steps and returns, closing open connections.
    pub fn run(self, stop: Option<Arc<AtomicBool>>) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let jobs = self.state.jobs.clone();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(self.listener)?;
            let app = routes::router(self.state);
            let stopped = async {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    if stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                        break;
                    }
                }
            };
            tokio::select! {
                served = axum::serve(listener, app) => served,
                () = stopped => Ok(()),
            }
        })?;
        jobs.cancel_all();
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        Ok(())
    }
}
