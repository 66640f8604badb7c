//! The one atomic file writer, for everything ops writes: formatted runbooks, saved
//! plans, reports, backup manifests.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically: a unique temporary file beside it (random name,
/// created with `O_EXCL`, so two writers in one process or two processes never share
/// it), fsync, rename over `path`, fsync of the directory. An existing file keeps its
/// permissions; a new one is private to its owner (0600), like every file ops creates.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.ops-"))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}
