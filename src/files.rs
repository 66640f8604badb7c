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
/// reading all of it. The buffer is sized from the metadata, so a runbook takes one
/// `read` (plus the one that sees the end); files that grow while read are cut at the cap.
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    // Only regular files: a FIFO or a device would block or never end. The check is made
    // before opening (opening a FIFO blocks) and again on the opened file, which is opened
    // non-blocking in case the path changed in between.
    let kind = |meta: &std::fs::Metadata| -> std::io::Result<()> {
        let ty = meta.file_type();
        if ty.is_file() {
            Ok(())
        } else if ty.is_dir() {
            Err(std::io::Error::other("is a directory"))
        } else {
            Err(std::io::Error::other(
                "is not a regular file (a FIFO, socket or device); ops reads only regular files",
            ))
        }
    };
    kind(&std::fs::metadata(path)?)?;
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
            .open(path)?
    };
    let meta = file.metadata()?;
    kind(&meta)?;
    let cap = MAX_FILE_SIZE + 1;
    let mut bytes = vec![0u8; (meta.len() as usize).min(cap) + 1];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            if bytes.len() >= cap {
                break;
            }
            bytes.resize((bytes.len() * 2).min(cap), 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

/// A path as shown to users and as the loader resolves it: `/`-separated.
pub fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
