//! Shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// A file of `shared/golden/fcn`, found through `FCN_GOLDEN` (CI sets it to
/// `../shared/golden`; the default is the `shared/golden` beside this checkout). A
/// missing file fails the test rather than skipping it.
pub fn golden(name: &str) -> PathBuf {
    let dir = std::env::var_os("FCN_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden")
        });
    let path = dir.join("fcn").join(name);
    assert!(
        path.exists(),
        "golden file {} is missing: point FCN_GOLDEN at shared/golden",
        path.display()
    );
    path
}
