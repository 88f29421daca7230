//! `prism serve`: the local web page (crates/prism-serve). Flags are checked before it binds; it
//! prints the address it listens on (`--port 0`: a free port) and with `--open` starts a browser.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use prism_core::RuntimeOptions;
use prism_serve::{ServeOptions, Server};

use crate::global;
use crate::session_args::SessionArgs;

#[derive(Args)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8642)]
    pub port: u16,
    /// Address to bind; anything but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Another host name the page is reached by (for --bind; repeat for several).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// A secret every request must carry (16+ characters): as `?token=` on the first page load,
    /// then a cookie, or `Authorization: Bearer`.
    #[arg(long)]
    pub token: Option<String>,
    /// Where jobs keep their inputs and results (default: the cache folder's `prism/serve`).
    #[arg(long, value_name = "DIR")]
    pub jobs_dir: Option<PathBuf>,
    /// Largest upload in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_upload: u64,
    /// Delete jobs created, and uploads made, more than this many days ago when the server starts.
    #[arg(long, value_name = "DAYS", default_value_t = prism_serve::DEFAULT_KEEP_DAYS)]
    pub keep_days: u64,
    /// Open the page in the system's browser.
    #[arg(long)]
    pub open: bool,
    #[command(flatten)]
    pub session: SessionArgs,
}

pub fn run(args: ServeArgs, runtime: &RuntimeOptions) -> Result<()> {
    let mut options =
        ServeOptions::new(args.jobs_dir.unwrap_or_else(prism_serve::default_jobs_dir));
    options.bind = args.bind;
    options.port = args.port;
    options.hosts = args.hosts;
    options.token = args.token;
    options.keep_days = args.keep_days;
    options.session = args.session.options(runtime);
    options.max_upload_bytes = usize::try_from(args.max_upload << 20).unwrap_or(usize::MAX);
    // The page's pixel limit is --max-pixels when given, else the server's (an 8K frame).
    let limits = global::limits();
    if limits.max_pixels != prism_media::Limits::DEFAULT_MAX_PIXELS {
        options.limits = limits;
    }
    let server = Server::bind(options)?;
    // One line on stdout, for people and for scripts that start it with --port 0.
    println!("prism serve: listening on {}", server.url());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if args.open {
        open_browser(&server.open_url());
    }
    server.run(Some(global::interrupt_shared()))?;
    // Ctrl-C: exit 130 like every other command (jobs were cancelled between steps).
    global::check_interrupted()?;
    Ok(())
}

/// Starts the system's browser on `url`; failing is a warning.
fn open_browser(url: &str) {
    let command = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    let spawned = std::process::Command::new(command.0)
        .args(&command.1)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let warn = |why: String| {
        eprintln!("warning: could not open a browser ({why}); open {url} yourself");
    };
    match spawned {
        Err(e) => warn(format!("{}: {e}", command.0)),
        Ok(mut child) => {
            let url = url.to_string();
            std::thread::spawn(move || {
                if let Ok(status) = child.wait()
                    && !status.success()
                {
                    eprintln!("warning: could not open a browser ({status}); open {url} yourself");
                }
            });
        }
    }
}
