//! `prism models list` rows: each registry model, where it can come from and where it is now
//! (the CLI's table and `--json`, and the Python package's `list_models`).

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::manager::ModelManager;
use crate::registry::{ModelEntry, TASKS};

impl ModelManager {
    /// One JSON object per registry model of `task` (all when `None`).
    pub fn list(&self, task: Option<&str>) -> Result<Vec<Value>> {
        if let Some(t) = task
            && !TASKS.contains(&t)
        {
            return Err(Error::Usage(format!(
                "unknown task `{t}` (expected one of {})",
                TASKS.join(", ")
            )));
        }
        let mut rows = Vec::new();
        for entry in self.registry().by_task(task) {
            let sources: Vec<&str> = [
                entry.exported().then_some("export"),
                entry.hub_files().next().map(|_| "hub"),
                (!entry.upstream.is_empty()).then_some("upstream"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let precisions: Vec<&str> = entry
                .variants
                .iter()
                .map(|v| v.precision.as_str())
                .collect();
            rows.push(json!({
                "id": entry.id, "task": entry.task, "architecture": entry.architecture,
                "scale": entry.scale, "precisions": precisions, "sources": sources,
                "available": self.availability(entry)?, "license": entry.license,
                "weights": entry.weights, "upstream": entry.upstream,
                "description": entry.description, "int8_gate": self.int8_gate(entry),
            }));
        }
        Ok(rows)
    }

    /// `exported` and `cached:<precision>` for what is on this machine now.
    fn availability(&self, entry: &ModelEntry) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if self.exported_path(entry).is_some() {
            out.push("exported".to_string());
        }
        let hub = self.hub()?;
        for (v, f) in entry.hub_files() {
            if hub.cached(f).is_some() {
                out.push(format!("cached:{}", v.precision));
            }
        }
        Ok(out)
    }

    /// The quality gate of the exported INT8 variant beside the FP32 export, as its manifest
    /// lists it.
    fn int8_gate(&self, entry: &ModelEntry) -> Option<prism_core::models::Gate> {
        let fp32 = self.exported_path(entry)?;
        let base = fp32.file_name()?.to_str()?.strip_suffix(".fp32.onnx")?;
        prism_core::models::int8_gate(&fp32.with_file_name(format!("{base}.int8.onnx")))
            .ok()
            .flatten()
    }
}
