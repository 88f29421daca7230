//! How `prism` ends: errors in folder and video mode reported as themselves, Ctrl-C in every
//! long command (exit 130, nothing half-written), a second Ctrl-C and SIGTERM (temporary files and
//! ffmpeg children gone), a batch killed outright and rerun (every output whole and right), and
//! the output contract (`-o FRAME.png`, `-q`, `--max-pixels`).
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::prism;

const SR: &str = "realesr-animevideov3-x2";

fn ffmpeg() -> PathBuf {
    prism_media::video::find_ffmpeg(None).unwrap_or_else(|e| panic!("{e}: {}", common::SETUP))
}

fn photo(size: (u32, u32), offset: u32) -> image::DynamicImage {
    let astronaut = image::open(common::real_image("astronaut.png")).unwrap();
    astronaut.crop_imm(100 + offset, 60 + offset, size.0, size.1)
}

/// A `frames`-frame 8 fps H.264 clip of `size` panning over a real photo.
fn video(dir: &Path, name: &str, size: (u32, u32), frames: u32) -> PathBuf {
    let pngs = dir.join(format!("{name}-frames"));
    std::fs::create_dir_all(&pngs).unwrap();
    for i in 0..frames {
        photo(size, i * 2)
            .save(pngs.join(format!("f{i:03}.png")))
            .unwrap();
    }
    let path = dir.join(name);
    let status = Command::new(ffmpeg())
        .args(["-hide_banner", "-v", "error", "-y", "-framerate", "8", "-i"])
        .arg(pngs.join("f%03d.png"))
        .args(["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(pngs).unwrap();
    path
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("prism runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits until `ready()` (the command is at work), failing if the process ends first.
fn wait_until(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("ended ({status}) before {what}: {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Names of temporary files under `dir` (any depth).
fn partials(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            found.extend(partials(&entry.path()));
        } else if name.contains(".partial") {
            found.push(name);
        }
    }
    found
}

fn has_partial(dir: &Path) -> bool {
    !partials(dir).is_empty()
}

/// Processes whose command line mentions `needle` (ffmpeg children writing into a test folder).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && !text.contains("cli_stops") {
                found.push(text);
            }
        }
    }
    found
}

/// A folder of frames with one frame of another size: the real error, exit 6, not "interrupted".
#[test]
fn folder_error_is_reported_as_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    photo((96, 64), 0).save(frames.join("a.png")).unwrap();
    photo((96, 64), 4).save(frames.join("b.png")).unwrap();
    photo((80, 64), 8).save(frames.join("c.png")).unwrap();
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(&frames)
        .arg("-o")
        .arg(tmp.path().join("out"))
        .args(["-x", "2", "--device", "cpu"]));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("differ in size"), "{err}");
    assert!(!err.contains("interrupted"), "{err}");
}

/// An encoder that fails (unknown codec) in video mode: ffmpeg's error, exit 1, no output file.
#[test]
fn video_error_is_reported_as_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = video(tmp.path(), "clip.mp4", (64, 48), 6);
    // (Fast style runs videos through the same prism_media::map_media as upscale.)
    for task in [vec!["interpolate", "-x", "2"], vec!["upscale", "-m", SR]] {
        let out = tmp.path().join(format!("{}.mkv", task[0]));
        let (code, err) = run(prism()
            .arg(task[0])
            .arg(&clip)
            .arg("-o")
            .arg(&out)
            .args(&task[1..])
            .args(["--device", "cpu", "--codec", "no-such-codec"]));
        assert_eq!(code, 1, "{task:?}: {err}");
        assert!(!err.contains("interrupted"), "{task:?}: {err}");
        assert!(err.contains("ffmpeg"), "{task:?}: {err}");
        assert!(!out.exists(), "{task:?}: no output after an error");
    }
    assert!(!has_partial(tmp.path()), "{:?}", partials(tmp.path()));
}

/// Ctrl-C in each long command: exit 130, the message says interrupted, nothing half-written.
#[test]
fn ctrl_c_stops_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for i in 0..40 {
        photo((160, 120), i)
            .save(inputs.join(format!("p{i:02}.png")))
            .unwrap();
    }
    let clip = video(tmp.path(), "clip.mp4", (160, 120), 48);
    let wrote_one = |dir: &Path| {
        let dir = dir.to_path_buf();
        move || {
            std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with(".png"))
                })
                .unwrap_or(false)
        }
    };
    // Folder batches: stopped after the first output, well before the last.
    for (task, args) in [
        ("upscale", vec!["upscale", "-m", SR]),
        ("style-fast", vec!["style", "fast"]),
    ] {
        let out = tmp.path().join(task);
        let mut child = spawn(
            prism()
                .args(&args[..1 + usize::from(task == "style-fast")])
                .arg(&inputs)
                .arg("-o")
                .arg(&out)
                .args(&args[1 + usize::from(task == "style-fast")..])
                .args(["--device", "cpu"]),
        );
        wait_until(&mut child, "the first output", wrote_one(&out));
        signal(&child, "INT");
        let (code, err) = finish(child);
        assert_eq!(code, 130, "{task}: {err}");
        assert!(err.contains("interrupted"), "{task}: {err}");
        let written = std::fs::read_dir(&out).unwrap().count();
        assert!(written < 40, "{task}: stopped early ({written} written)");
        assert!(!has_partial(&out), "{task}: {:?}", partials(&out));
    }
    // Videos: stopped while the encoder runs; no output file, no temporary file.
    for (task, args) in [
        ("interpolate", vec!["interpolate", "-x", "4"]),
        ("upscale", vec!["upscale", "-m", SR]),
    ] {
        let out = tmp.path().join(format!("{task}.mp4"));
        let mut child = spawn(
            prism()
                .arg(args[0])
                .arg(&clip)
                .arg("-o")
                .arg(&out)
                .args(&args[1..])
                .args(["--device", "cpu"]),
        );
        let root = tmp.path().to_path_buf();
        wait_until(&mut child, "the encoder's temporary file", || {
            has_partial(&root)
        });
        std::thread::sleep(Duration::from_millis(500));
        signal(&child, "INT");
        let (code, err) = finish(child);
        assert_eq!(code, 130, "{task} video: {err}");
        assert!(!out.exists(), "{task} video: no output when interrupted");
        assert!(
            !has_partial(tmp.path()),
            "{task} video: {:?}",
            partials(tmp.path())
        );
    }
    // Neural style (stopped between steps) and bench (between runs).
    let neural_out = tmp.path().join("neural.png");
    let mut child = spawn(
        prism()
            .args(["style", "neural"])
            .arg(inputs.join("p00.png"))
            .arg("-s")
            .arg(inputs.join("p30.png"))
            .arg("-o")
            .arg(&neural_out)
            .args(["--steps", "500", "--save-every", "1", "--device", "cpu"]),
    );
    let snapshot = tmp.path().join("neural_0_0001.png");
    wait_until(&mut child, "the first neural step", || snapshot.exists());
    signal(&child, "INT");
    let (code, err) = finish(child);
    assert_eq!(code, 130, "neural: {err}");
    assert!(!neural_out.exists());
    let child = spawn(prism().args([
        "bench",
        SR,
        "--shape",
        "1x3x64x64",
        "--runs",
        "100000",
        "--device",
        "cpu",
    ]));
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, "INT");
    let (code, err) = finish(child);
    assert_eq!(code, 130, "bench: {err}");
    assert!(!has_partial(tmp.path()), "{:?}", partials(tmp.path()));
}

/// A second Ctrl-C, and SIGTERM, stop at once: the encoder's temporary file is deleted and the
/// ffmpeg children are gone with Prism.
#[test]
fn second_ctrl_c_and_sigterm_clean_up() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = video(tmp.path(), "clip.mp4", (160, 120), 64);
    for (how, expected) in [("INT INT", 130), ("TERM", 143)] {
        let out = tmp.path().join(format!("up-{}.mp4", how.replace(' ', "-")));
        let mut child = spawn(
            prism()
                .args(["upscale", "-m", "realesrgan-x4plus", "--tile", "32"])
                .arg(&clip)
                .arg("-o")
                .arg(&out)
                .args(["--device", "cpu"]),
        );
        let root = tmp.path().to_path_buf();
        wait_until(&mut child, "the encoder's temporary file", || {
            has_partial(&root)
        });
        let name = out.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !processes_mentioning(&name).is_empty(),
            "{how}: ffmpeg encodes into {name}"
        );
        for signal_name in how.split(' ') {
            signal(&child, signal_name);
            std::thread::sleep(Duration::from_millis(100));
        }
        let (code, err) = finish(child);
        assert_eq!(code, expected, "{how}: {err}");
        std::thread::sleep(Duration::from_millis(200));
        assert!(!out.exists(), "{how}");
        assert!(
            !has_partial(tmp.path()),
            "{how}: {:?}",
            partials(tmp.path())
        );
        let left = processes_mentioning(&name);
        assert!(left.is_empty(), "{how}: children left running: {left:?}");
    }
}

/// A batch killed outright (SIGKILL) at several points and rerun: every output decodes and is
/// identical to an uninterrupted run's, and the killed run's temporary files are gone.
#[test]
fn sigkilled_batch_resumes_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for i in 0..12 {
        photo((128, 96), i * 3)
            .save(inputs.join(format!("p{i:02}.png")))
            .unwrap();
    }
    let batch = |out: &Path| {
        let mut cmd = prism();
        cmd.args(["upscale", "-m", SR])
            .arg(&inputs)
            .arg("-o")
            .arg(out)
            .args(["--device", "cpu"]);
        cmd
    };
    let reference = tmp.path().join("reference");
    let (code, err) = run(&mut batch(&reference));
    assert_eq!(code, 0, "{err}");
    let start = Instant::now();
    let mut killed_with_partial = false;
    for (round, delay_ms) in [700u64, 1100, 1500, 1900].into_iter().enumerate() {
        let out = tmp.path().join(format!("killed{round}"));
        let mut child = spawn(&mut batch(&out));
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        killed_with_partial |= has_partial(&out);
        let (code, err) = run(&mut batch(&out));
        assert_eq!(code, 0, "rerun after SIGKILL at {delay_ms} ms: {err}");
        assert!(!has_partial(&out), "{:?}", partials(&out));
        for entry in std::fs::read_dir(&reference).unwrap().flatten() {
            let name = entry.file_name();
            let want = image::open(entry.path()).unwrap().to_rgb8();
            let got = image::open(out.join(&name))
                .unwrap_or_else(|e| panic!("{name:?} after SIGKILL at {delay_ms} ms: {e}"))
                .to_rgb8();
            assert!(
                want == got,
                "{name:?} differs after SIGKILL at {delay_ms} ms"
            );
        }
    }
    eprintln!(
        "4 kill/rerun rounds in {:.1} s; a temporary file was caught mid-write: {killed_with_partial}",
        start.elapsed().as_secs_f64()
    );
}

/// `-o mid.png` with one timestep writes that frame to that file (not a folder); several
/// frames into one image file is a usage error; `-q` prints nothing on success.
#[test]
fn outputs_where_the_user_said() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.png");
    let b = tmp.path().join("b.png");
    photo((96, 64), 0).save(&a).unwrap();
    photo((96, 64), 6).save(&b).unwrap();
    let mid = tmp.path().join("mid.png");
    let out = prism()
        .arg("interpolate")
        .args([&a, &b])
        .arg("-o")
        .arg(&mid)
        .args(["--timestep", "0.5", "--device", "cpu"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty() && out.stdout.is_empty(),
        "-q is quiet"
    );
    assert!(mid.is_file(), "a file, not a folder");
    let frame = image::open(&mid).unwrap();
    assert_eq!((frame.width(), frame.height()), (96, 64));
    let (code, err) = run(prism()
        .arg("interpolate")
        .args([&a, &b])
        .arg("-o")
        .arg(tmp.path().join("three.png"))
        .args(["-n", "3", "--device", "cpu"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds one frame"), "{err}");
    // Bad flag values are usage errors, found before any work.
    for args in [
        vec!["upscale", "a.png", "--tile", "0"],
        vec!["upscale", "a.png", "--tile", "big"],
        vec![
            "style",
            "neural",
            "a.png",
            "-s",
            "b.png",
            "-o",
            "x.png",
            "--optimizer",
            "sgd",
        ],
        vec![
            "interpolate",
            "a.png",
            "b.png",
            "-o",
            "o",
            "--timestep",
            "1.5",
        ],
        vec!["style", "fast", "a.png", "--style", "99"],
    ] {
        let (code, err) = run(prism().args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}

/// An image above `--max-pixels` is refused before decoding: exit 6, the file, its size and the
/// flag named; the default limit refuses a 20000x20000 PNG header (a 1.2 GB decode).
#[test]
fn decoding_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("p.png");
    photo((200, 150), 0).save(&image).unwrap();
    let (code, err) = run(prism()
        .args(["upscale", "-m", SR, "--max-pixels", "20000"])
        .arg(&image)
        .arg("-o")
        .arg(tmp.path().join("out.png")));
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains("200x150") && err.contains("--max-pixels") && err.contains("p.png"),
        "{err}"
    );
    let bomb = tmp.path().join("bomb.png");
    std::fs::write(&bomb, png_header(20000, 20000)).unwrap();
    let (code, err) = run(prism()
        .args(["upscale", "-m", SR])
        .arg(&bomb)
        .arg("-o")
        .arg(tmp.path().join("bomb_x2.png")));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("20000x20000"), "{err}");
}

/// A PNG of an 8-bit RGB `width` x `height` image whose pixel data is missing (a few dozen bytes
/// that claim gigabytes).
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &header[..]), (b"IDAT", &[]), (b"IEND", &[])] {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
