//! Finding runbooks on disk and reading them for the checker.

use std::io::Read;
use std::path::{Path, PathBuf};

use lang::parse::MAX_FILE_SIZE;

/// The extension runbooks carry.
pub const EXTENSION: &str = ".rb.ops";

/// The runbook files named by `paths`: files as given, directories searched
/// recursively for `*.rb.ops` (hidden directories and `target/` skipped), sorted.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            let walker = walkdir::WalkDir::new(path).follow_links(true).into_iter();
            for entry in walker.filter_entry(|e| {
                e.depth() == 0 || !skipped(e.file_name().to_string_lossy().as_ref())
            }) {
                let entry = entry.map_err(|e| e.to_string())?;
                if entry.file_type().is_file()
                    && entry.file_name().to_string_lossy().ends_with(EXTENSION)
                {
                    found.push(entry.into_path());
                }
            }
            if found.is_empty() {
                return Err(format!(
                    "{}: no `*{EXTENSION}` files in this directory",
                    path.display()
                ));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    out.dedup();
    Ok(out)
}

fn skipped(name: &str) -> bool {
    name.starts_with('.') || name == "target" || name == "node_modules"
}

/// Reads files from disk, never more than the size limit plus one byte.
pub struct FsLoader;

impl lang::Loader for FsLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        read_capped(Path::new(path)).map_err(|e| e.to_string())
    }
}

/// Reads at most `MAX_FILE_SIZE + 1` bytes, so an oversized file is detected without
/// reading all of it.
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A path as shown to users and as the loader resolves it: `/`-separated.
pub fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
