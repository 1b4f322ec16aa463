//! Helpers shared by kcp-core's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/vectors/<name>` relative to the workspace root (CI lays it
/// out at the same relative path).
pub fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors")
        .join(name)
}

pub fn load_json(name: &str) -> serde_json::Value {
    let path = vector_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}
