//! Helpers shared by kcp-core's integration tests.
#![allow(dead_code)]

pub mod thread_allocs;
pub mod wire;

use std::path::PathBuf;

/// `testdata/kcp-go/<name>` in the workspace: the vectors recorded from
/// kcp-go, kept verbatim in the repository (see testdata/kcp-go/README.md).
pub fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/kcp-go")).join(name)
}

pub fn load_json(name: &str) -> serde_json::Value {
    let path = vector_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read testdata/kcp-go/{name} (at {}): {e}; the kcp-go vectors \
             are part of the repository, restore them from git",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("valid JSON")
}
