//! Prism's models: the registry of named models (`models/registry.toml`), a Hugging Face Hub client
//! that downloads into the standard Hub cache with integrity checks, resume and an offline mode, and
//! [`resolve_model`], the one way from a model argument (path or id) to a verified file.
//!
//! ```no_run
//! let path = prism_hub::resolve_model("realesrgan-x4plus")?;
//! println!("{}", path.display());
//! # Ok::<(), prism_hub::Error>(())
//! ```

pub mod api;
pub mod bounded;
pub mod cache;
pub mod checks;
pub mod error;
pub mod hub;
mod listing;
pub mod manager;
pub mod names;
pub mod registry;
pub mod settings;

pub use api::{RemoteInfo, RemoteModel};
pub use cache::{Cache, CachedFile};
pub use error::{Error, Result};
pub use hub::{Downloaded, Hub, HubOptions};
pub use manager::{
    ManagerOptions, ModelManager, Resolved, Source, VariantFile, default_manager, resolve_model,
};
pub use registry::{HubFile, IoContract, ModelEntry, Provenance, Registry, Upstream, Variant};
