//! Helpers shared by the integration tests.

pub mod oracle;

use std::path::PathBuf;

/// The bid request corpus: `shared/corpus/` beside the checkout, else its copy in the
/// repository's `testdata/corpus/` (a clean clone alone).
pub fn corpus_dir() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        crate_dir.join("../../../shared/corpus"),
        crate_dir.join("../../testdata/corpus"),
    ]
    .into_iter()
    .find(|dir| dir.is_dir())
    .unwrap_or_else(|| panic!("no corpus beside {}", crate_dir.display()))
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
