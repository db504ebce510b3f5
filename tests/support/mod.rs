//! Helpers shared by the cross-crate tests.

use std::path::PathBuf;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").to_path_buf()
}

/// A file under `examples/`.
pub fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}
