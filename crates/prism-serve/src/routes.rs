//! The HTTP routes: the page (three files compiled in), models, uploads, jobs, their files and
//! their progress stream. Every route is behind [`crate::security::guard`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ServeOptions;
use crate::jobs::{Job, JobFile, Jobs, State as JobState, Task, now_secs, valid_id};
pub use crate::request::{ARBITRARY, Options};
use crate::request::{listed, model_allowed, probe_upload};
use crate::security::{Policy, guard};

/// What every handler sees.
pub struct AppState {
    pub jobs: Arc<Jobs>,
    pub policy: Policy,
    pub options: ServeOptions,
}

type Shared = State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    let upload_limit = state.options.max_upload_bytes;
    Router::new()
        .route("/", get(|| asset("index.html")))
        .route("/app.js", get(|| asset("app.js")))
        .route("/style.css", get(|| asset("style.css")))
        .route("/api/info", get(info))
        .route("/api/models", get(models))
        .route("/api/models/{id}/download", post(download))
        .route(
            "/api/uploads",
            post(upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/jobs", get(list_jobs).post(create_job))
        .route("/api/jobs/{id}", get(get_job).delete(delete_job))
        .route("/api/jobs/{id}/events", get(events))
        .route("/api/jobs/{id}/files/{*name}", get(file))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn asset(name: &str) -> Response {
    let (body, kind) = match name {
        "index.html" => (
            include_str!("../assets/index.html"),
            "text/html; charset=utf-8",
        ),
        "app.js" => (
            include_str!("../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => (
            include_str!("../assets/style.css"),
            "text/css; charset=utf-8",
        ),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn info(State(s): Shared) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "max_upload_bytes": s.options.max_upload_bytes,
        "max_pixels": s.options.limits.max_pixels,
        "provider": format!("{:?}", s.options.session.device),
    }))
}

#[derive(Deserialize)]
struct TaskQuery {
    task: Task,
}

/// `prism models list` rows of a task, as the page lists them.
async fn models(Query(q): Query<TaskQuery>) -> Response {
    let rows = tokio::task::spawn_blocking(move || -> Result<Vec<Value>, String> {
        let manager = prism_hub::default_manager().map_err(|e| e.to_string())?;
        let rows = manager
            .list(Some(q.task.registry_task()))
            .map_err(|e| e.to_string())?;
        let available = |id: &str| {
            rows.iter().any(|r| {
                r["id"] == id && r["available"].as_array().is_some_and(|a| !a.is_empty())
            })
        };
        let mut out: Vec<Value> = rows
            .iter()
            .filter(|r| r["id"].as_str().is_some_and(|id| listed(q.task, id)))
            .cloned()
            .collect();
        if q.task == Task::Style {
            let both = available("style-arbitrary-predict") && available("style-arbitrary-transform");
            out.push(json!({
                "id": ARBITRARY, "task": "style", "weights": {"kind": "real"},
                "available": if both { vec!["exported"] } else { vec![] },
                "description": "any picture as the style (Magenta arbitrary stylisation: style-arbitrary-predict + -transform)",
            }));
        }
        Ok(out)
    })
    .await;
    match rows {
        Ok(Ok(rows)) => Json(json!({ "models": rows })).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `prism models download ID`: the Hub files of a registry model into the Hub cache.
async fn download(UrlPath(id): UrlPath<String>) -> Response {
    let result = tokio::task::spawn_blocking(move || -> Result<Value, String> {
        let manager = prism_hub::default_manager().map_err(|e| e.to_string())?;
        let files: Vec<Value> = manager
            .download(&id)
            .map_err(|e| e.to_string())?
            .iter()
            .map(|got| json!({ "precision": got.precision, "size": got.file.size, "cached": got.file.cached }))
            .collect();
        Ok(json!({ "id": id, "files": files }))
    })
    .await;
    match result {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_GATEWAY, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// One image, as the request body: checked, then kept under `uploads/` by a server-made id.
async fn upload(State(s): Shared, body: Bytes) -> Response {
    let (ext, width, height) = match probe_upload(&body, &s.options.limits) {
        Ok(found) => found,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    let id = s.jobs.fresh_id();
    let path = s.jobs.root().join("uploads").join(format!("{id}.{ext}"));
    if let Err(e) = tokio::fs::write(&path, &body).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("storing the upload: {e}"),
        );
    }
    Json(json!({ "id": id, "width": width, "height": height, "format": ext })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJob {
    task: Task,
    model: String,
    inputs: Vec<String>,
    #[serde(default)]
    options: Option<Options>,
}

/// Queues a job over earlier uploads (moved into the job's folder).
async fn create_job(State(s): Shared, Json(new): Json<NewJob>) -> Response {
    let options = new.options.unwrap_or_default();
    if let Err(e) = options.check(new.task) {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let expected = new.task.inputs(&new.model);
    if new.inputs.len() != expected {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "this job takes {expected} image(s), {} given",
                new.inputs.len()
            ),
        );
    }
    let (task, model) = (new.task, new.model.clone());
    match tokio::task::spawn_blocking(move || model_allowed(task, &model)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let uploads = s.jobs.root().join("uploads");
    let mut found = Vec::new();
    for upload in &new.inputs {
        if !valid_id(upload) {
            return error(StatusCode::BAD_REQUEST, "an input is not an upload id");
        }
        let file = ["png", "jpg", "webp", "tiff"]
            .iter()
            .map(|ext| (ext, uploads.join(format!("{upload}.{ext}"))))
            .find(|(_, p)| p.is_file());
        match file {
            Some(f) => found.push(f),
            None => return error(StatusCode::NOT_FOUND, format!("no upload {upload}")),
        }
    }
    let id = s.jobs.fresh_id();
    let dir = s.jobs.dir(&id);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    let mut files = Vec::new();
    for (i, (ext, path)) in found.into_iter().enumerate() {
        let (name, role) = match (new.task, i) {
            (Task::Style | Task::Neural, 1) => (format!("style.{ext}"), "style"),
            _ => (format!("input-{i}.{ext}"), "input"),
        };
        // Copied, not moved: the page may run the same upload again with other options.
        if let Err(e) = std::fs::copy(&path, dir.join(&name)) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
        files.push(JobFile {
            name,
            role: role.into(),
        });
    }
    let job = Job {
        id: id.clone(),
        task: new.task,
        model: new.model,
        options: serde_json::to_value(&options).unwrap_or_default(),
        state: JobState::Queued,
        done: 0,
        total: 0,
        unit: String::new(),
        message: "queued".into(),
        error: None,
        files,
        losses: Vec::new(),
        created: now_secs(),
        seconds: None,
    };
    s.jobs.submit(job.clone());
    (StatusCode::CREATED, Json(job)).into_response()
}

async fn list_jobs(State(s): Shared) -> Json<Value> {
    Json(json!({ "jobs": s.jobs.list() }))
}

/// The job of a checked id, or why not (400: not an id, 404: no such job).
fn find(s: &AppState, id: &str) -> Result<Job, (StatusCode, String)> {
    if !valid_id(id) {
        return Err((StatusCode::BAD_REQUEST, "not a job id".into()));
    }
    s.jobs
        .get(id)
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no job {id}")))
}

async fn get_job(State(s): Shared, UrlPath(id): UrlPath<String>) -> Response {
    match find(&s, &id) {
        Ok(job) => Json(job).into_response(),
        Err((status, message)) => error(status, message),
    }
}

/// Stops an unfinished job (its state comes back); removes a finished one with its files (204).
async fn delete_job(State(s): Shared, UrlPath(id): UrlPath<String>) -> Response {
    match find(&s, &id) {
        Ok(job) if job.state.finished() => {
            if s.jobs.remove(&id) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                error(StatusCode::NOT_FOUND, "no such job")
            }
        }
        Ok(_) => {
            s.jobs.cancel(&id);
            Json(s.jobs.get(&id)).into_response()
        }
        Err((status, message)) => error(status, message),
    }
}

/// The job as JSON on every change, until it has finished.
async fn events(State(s): Shared, UrlPath(id): UrlPath<String>) -> Response {
    if let Err((status, message)) = find(&s, &id) {
        return error(status, message);
    }
    let Some(rx) = s.jobs.watch(&id) else {
        return error(StatusCode::NOT_FOUND, "no such job");
    };
    let stream = job_stream(s.jobs.clone(), id, rx);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn job_stream(
    jobs: Arc<Jobs>,
    id: String,
    rx: tokio::sync::watch::Receiver<u64>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        (jobs, id, rx, true, false),
        |(jobs, id, mut rx, first, ended)| async move {
            if ended {
                return None;
            }
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let _ = rx.borrow_and_update();
            let job = jobs.get(&id)?;
            let finished = job.state.finished();
            let event = Event::default()
                .event("job")
                .json_data(&job)
                .unwrap_or_default();
            Some((Ok(event), (jobs, id, rx, false, finished)))
        },
    )
}

/// A file of a job: only names the job lists (its inputs and results), so nothing outside the
/// job's folder can be named.
async fn file(State(s): Shared, UrlPath((id, name)): UrlPath<(String, String)>) -> Response {
    let job = match find(&s, &id) {
        Ok(job) => job,
        Err((status, message)) => return error(status, message),
    };
    if name.split('/').any(|p| p.is_empty() || p.starts_with('.')) || name.contains('\\') {
        return error(StatusCode::BAD_REQUEST, "not a file name");
    }
    if !job.has_file(&name) {
        return error(
            StatusCode::NOT_FOUND,
            format!("job {id} has no file {name}"),
        );
    }
    let path = s.jobs.dir(&id).join(&name);
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("tiff") => "image/tiff",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, format!("{name}: {e}")),
    }
}
