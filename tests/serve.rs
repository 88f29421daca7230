//! `prism serve` over plain HTTP: the safety checks (Host, Origin, token, upload limits, job ids
//! and file names that try to leave the job folder) and one real upscale job, with no browser.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

/// A running `prism serve`, stopped when dropped.
struct Serve {
    child: Child,
    port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(jobs: &std::path::Path, extra: &[&str]) -> Serve {
    let mut child = common::prism()
        .args(["serve", "--port", "0", "--threads", "1", "--jobs-dir"])
        .arg(jobs)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("prism serve: listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let port = url.trim_end_matches('/').parse().unwrap();
    Serve { child, port }
}

struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request with exactly these headers (`Host` included) and body.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n", body.len());
    s.write_all(req.as_bytes()).unwrap();
    // The body from another thread: a server may answer (413) before reading all of it.
    let mut writer = s.try_clone().unwrap();
    let body = body.to_vec();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&body);
    });
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let _ = sending.join();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
}

fn host(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn host_origin_and_paths_are_checked_and_a_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("jobs"), &[]);
    let h = host(s.port);
    let get = |path: &str, headers: &[(&str, &str)]| http(s.port, "GET", path, headers, b"");

    // The page, with its safety headers.
    let page = get("/", &[("Host", &h)]);
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("<script src=\"/app.js\">"));
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("content-security-policy: default-src 'self'")
    );
    assert_eq!(
        get("/", &[("Host", &format!("localhost:{}", s.port))]).status,
        200
    );

    // Host: DNS rebinding (another name for this address) and a missing Host are refused.
    assert_eq!(
        get(
            "/api/jobs",
            &[("Host", &format!("evil.example:{}", s.port))]
        )
        .status,
        403
    );
    assert_eq!(get("/api/jobs", &[("Host", "127.0.0.1:1")]).status, 403);
    assert_eq!(get("/api/jobs", &[]).status, 403);
    // Origin: only this server's own.
    let same = format!("http://{h}");
    assert_eq!(
        get("/api/jobs", &[("Host", &h), ("Origin", &same)]).status,
        200
    );
    for origin in ["http://evil.example", "null", "https://127.0.0.1"] {
        let a = http(
            s.port,
            "POST",
            "/api/uploads",
            &[("Host", &h), ("Origin", origin)],
            &png(4, 4),
        );
        assert_eq!(a.status, 403, "{origin}");
    }
    assert!(
        std::fs::read_dir(dir.path().join("jobs/uploads"))
            .unwrap()
            .next()
            .is_none()
    );

    // Uploads: not an image, then a real one.
    let bad = http(
        s.port,
        "POST",
        "/api/uploads",
        &[("Host", &h)],
        b"#!/bin/sh\nrm -rf /\n",
    );
    assert_eq!(bad.status, 422);
    let up = http(
        s.port,
        "POST",
        "/api/uploads",
        &[("Host", &h)],
        &png(24, 16),
    );
    assert_eq!(up.status, 200, "{}", String::from_utf8_lossy(&up.body));
    let upload = up.json()["id"].as_str().unwrap().to_string();
    assert_eq!(up.json()["width"], 24);

    // Jobs: models are registry ids, never paths; inputs are upload ids, never paths.
    let post_job = |body: serde_json::Value| {
        http(
            s.port,
            "POST",
            "/api/jobs",
            &[("Host", &h), ("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    for model in [
        "/etc/passwd",
        "../export/out/x.onnx",
        "tests/fixtures/identity.onnx",
        "rife-v4.6",
    ] {
        let a =
            post_job(serde_json::json!({"task": "upscale", "model": model, "inputs": [upload]}));
        assert_eq!(
            a.status,
            400,
            "{model}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    for input in ["../../etc/passwd", "/etc/passwd", "0123456789abcdef"] {
        let a = post_job(
            serde_json::json!({"task": "upscale", "model": "realesr-animevideov3-x2", "inputs": [input]}),
        );
        assert!(matches!(a.status, 400 | 404), "{input}: {}", a.status);
    }
    let a = post_job(
        serde_json::json!({"task": "upscale", "model": "realesr-animevideov3-x2", "inputs": [upload], "options": {"outscale": -1}}),
    );
    assert_eq!(a.status, 400);

    // A real job: Real-ESRGAN animevideov3 x2 on the upload.
    let a = post_job(
        serde_json::json!({"task": "upscale", "model": "realesr-animevideov3-x2", "inputs": [upload]}),
    );
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().unwrap().to_string();
    let events = get(&format!("/api/jobs/{id}/events"), &[("Host", &h)]);
    let text = String::from_utf8_lossy(&events.body);
    assert!(text.contains("\"state\":\"done\""), "{text}");
    let job = get(&format!("/api/jobs/{id}"), &[("Host", &h)]).json();
    assert_eq!(job["state"], "done", "{job}");
    let result = get(&format!("/api/jobs/{id}/files/result.png"), &[("Host", &h)]);
    assert_eq!(result.status, 200);
    let img = image::load_from_memory(&result.body).unwrap();
    assert_eq!((img.width(), img.height()), (48, 32));

    // Only the files a job lists, by their names: nothing else of its folder or outside it.
    for path in [
        format!("/api/jobs/{id}/files/job.json"),
        format!("/api/jobs/{id}/files/../../../../etc/passwd"),
        format!("/api/jobs/{id}/files/..%2F..%2F..%2Fetc%2Fpasswd"),
        format!("/api/jobs/{id}/files/frames/../job.json"),
        format!("/api/jobs/{id}/files/%2Fetc%2Fpasswd"),
        format!("/api/jobs/{id}/files/.job.json.partial"),
        "/api/jobs/..%2F..%2Fetc/files/passwd".to_string(),
        "/api/jobs/0123456789abcdef/files/result.png".to_string(),
        "/api/jobs/../../etc/passwd".to_string(),
    ] {
        let a = get(&path, &[("Host", &h)]);
        assert!(matches!(a.status, 400 | 403 | 404), "{path}: {}", a.status);
        assert!(
            !String::from_utf8_lossy(&a.body).contains("root:"),
            "{path}"
        );
    }

    // DELETE removes a finished job with its folder.
    let job_dir = dir.path().join("jobs").join(&id);
    assert!(job_dir.join("result.png").is_file());
    let del = |id: &str| {
        http(
            s.port,
            "DELETE",
            &format!("/api/jobs/{id}"),
            &[("Host", &h)],
            b"",
        )
    };
    assert_eq!(del(&id).status, 204);
    assert!(!job_dir.exists());
    assert_eq!(get(&format!("/api/jobs/{id}"), &[("Host", &h)]).status, 404);
    assert_eq!(del(&id).status, 404);
    assert_eq!(del("..%2F..%2Fetc").status, 400);
}

#[test]
fn token_limits_and_binding() {
    let dir = tempfile::tempdir().unwrap();
    let token = "s3cret-token-0123456789";
    let s = serve(
        &dir.path().join("jobs"),
        &[
            "--token",
            token,
            "--max-upload",
            "1",
            "--max-pixels",
            "1000",
        ],
    );
    let h = host(s.port);
    assert_eq!(
        http(s.port, "GET", "/api/jobs", &[("Host", &h)], b"").status,
        401
    );
    assert_eq!(
        http(
            s.port,
            "GET",
            "/api/jobs?token=wrong-token-0123456789",
            &[("Host", &h)],
            b""
        )
        .status,
        401
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        http(
            s.port,
            "GET",
            "/api/jobs",
            &[("Host", &h), ("Authorization", &bearer)],
            b""
        )
        .status,
        200
    );
    // The first page load with ?token= keeps it in a same-site cookie.
    let page = http(
        s.port,
        "GET",
        &format!("/?token={token}"),
        &[("Host", &h)],
        b"",
    );
    assert_eq!(page.status, 200);
    assert!(
        page.head.contains(&format!(
            "prism_token={token}; Path=/; HttpOnly; SameSite=Strict"
        )),
        "{}",
        page.head
    );
    let cookie = format!("prism_token={token}");
    let auth = [("Host", h.as_str()), ("Cookie", cookie.as_str())];
    assert_eq!(http(s.port, "GET", "/api/jobs", &auth, b"").status, 200);
    // Uploads over the size limit (1 MiB) and the pixel limit (--max-pixels 1000) are refused.
    let big = vec![0u8; 2 << 20];
    assert_eq!(
        http(s.port, "POST", "/api/uploads", &auth, &big).status,
        413
    );
    let a = http(s.port, "POST", "/api/uploads", &auth, &png(40, 30));
    assert_eq!(a.status, 422);
    assert!(
        String::from_utf8_lossy(&a.body).contains("1000"),
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!(
        http(s.port, "POST", "/api/uploads", &auth, &png(20, 20)).status,
        200
    );

    // A non-loopback address without a token is a usage error (exit 2) before binding.
    let out = common::prism()
        .args(["serve", "--bind", "0.0.0.0", "--port", "0", "--jobs-dir"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));
    // A port in use is an I/O failure (exit 1) naming the address.
    let out = common::prism()
        .args(["serve", "--port", &s.port.to_string(), "--jobs-dir"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{}", s.port)));
}

#[test]
fn old_jobs_and_uploads_are_deleted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs");
    let now = std::time::SystemTime::now();
    let secs = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let day = 86_400;
    for (id, age_days) in [("00000000000000a1", 20), ("00000000000000b2", 1)] {
        std::fs::create_dir_all(jobs.join(id)).unwrap();
        let job = serde_json::json!({"id": id, "task": "upscale", "model": "realesr-animevideov3-x2",
            "options": {}, "state": "done", "done": 1, "total": 1, "unit": "images", "message": "",
            "error": null, "files": [], "losses": [], "created": secs - age_days * day, "seconds": 1.0});
        std::fs::write(jobs.join(id).join("job.json"), job.to_string()).unwrap();
    }
    std::fs::create_dir_all(jobs.join("uploads")).unwrap();
    for (name, age_days) in [("0000000000000011.png", 30), ("0000000000000022.png", 0)] {
        let f = std::fs::File::create(jobs.join("uploads").join(name)).unwrap();
        f.set_modified(now - std::time::Duration::from_secs(age_days * day))
            .unwrap();
    }
    let listed = |extra: &[&str]| {
        let s = serve(&jobs, extra);
        let list = http(s.port, "GET", "/api/jobs", &[("Host", &host(s.port))], b"").json();
        let mut ids: Vec<String> = list["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    // --keep-days 30 keeps both; the default (14 days) deletes the 20-day-old job and upload.
    assert_eq!(
        listed(&["--keep-days", "30"]),
        ["00000000000000a1", "00000000000000b2"]
    );
    assert!(jobs.join("uploads/0000000000000011.png").exists());
    assert_eq!(listed(&[]), ["00000000000000b2"]);
    assert!(!jobs.join("00000000000000a1").exists());
    assert!(!jobs.join("uploads/0000000000000011.png").exists());
    assert!(jobs.join("uploads/0000000000000022.png").exists());
}
