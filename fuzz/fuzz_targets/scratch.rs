// Shared by the targets: the readers take paths, so each input goes to a file of
// this process first.

use std::path::PathBuf;

pub fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("fcn-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("the temporary directory is writable");
    path
}
