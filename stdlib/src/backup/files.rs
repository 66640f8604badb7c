//! `backup files` and `restore files`: a tar archive compressed with zstd, with
//! include/exclude globs; extraction only into an empty directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;

use super::run::{attr_path, finish, restorable, set_name, target};
use super::store::{self, Pending};

/// What `backup files` archives: the source tree minus the backup directory itself,
/// filtered by `include` (files) and `exclude` (files and directories) globs.
pub struct Selection {
    /// The source directory.
    pub source: PathBuf,
    include: Option<globset::GlobSet>,
    exclude: Option<globset::GlobSet>,
    /// The backup directory, canonical: never archived into itself.
    into: Option<PathBuf>,
}

impl Selection {
    /// The selection a step's inputs describe.
    pub fn of(input: &StepInput) -> Result<Selection, StepError> {
        let source = PathBuf::from(target(input)?);
        if !source.is_dir() {
            return Err(StepError::fatal(format!(
                "{} is not a directory",
                source.display()
            )));
        }
        let globs = |name: &str| -> Result<Option<globset::GlobSet>, StepError> {
            let Some(list) = input.attr(name).and_then(Value::as_list) else {
                return Ok(None);
            };
            let mut b = globset::GlobSetBuilder::new();
            for g in list {
                let text = g.interpolated();
                b.add(
                    globset::Glob::new(&text)
                        .map_err(|e| StepError::fatal(format!("`{name}`: {e}")))?,
                );
            }
            b.build()
                .map(Some)
                .map_err(|e| StepError::fatal(format!("`{name}`: {e}")))
        };
        Ok(Selection {
            source,
            include: globs("include")?,
            exclude: globs("exclude")?,
            into: input
                .str("into")
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| PathBuf::from(d))),
        })
    }

    /// Calls `f(entry, relative path)` for every selected entry, in file-name order.
    pub fn walk(
        &self,
        mut f: impl FnMut(&walkdir::DirEntry, &Path) -> Result<(), StepError>,
    ) -> Result<(), StepError> {
        for entry in walkdir::WalkDir::new(&self.source)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry
                .map_err(|e| StepError::fatal(format!("reading {}: {e}", self.source.display())))?;
            let path = entry.path();
            if let Some(into) = &self.into
                && std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(into))
            {
                continue;
            }
            let Ok(rel) = path.strip_prefix(&self.source) else {
                continue;
            };
            if rel.as_os_str().is_empty() {
                continue;
            }
            if self.exclude.as_ref().is_some_and(|g| g.is_match(rel)) {
                continue;
            }
            if entry.file_type().is_file()
                && self.include.as_ref().is_some_and(|g| !g.is_match(rel))
            {
                continue;
            }
            f(&entry, rel)?;
        }
        Ok(())
    }
}

/// `backup files DIR`: a tar archive compressed with zstd, with include/exclude globs.
pub async fn backup_files(input: &StepInput, _ctx: &StepContext) -> Result<Outputs, StepError> {
    let dir = attr_path(input, "into")?;
    let selection = Selection::of(input)?;
    let base = selection
        .source
        .file_name()
        .map_or_else(|| "files".to_string(), |n| n.to_string_lossy().into_owned());
    let set = set_name(input, &base)?;
    let level = input
        .attr("level")
        .and_then(Value::as_int)
        .unwrap_or(3)
        .clamp(1, 19) as i32;
    let started = tokio::time::Instant::now();
    let started_at = store::now();
    let pending = Pending::create(&dir, &set, "tar.zst")?;
    let pending = tokio::task::spawn_blocking(move || -> Result<Pending, StepError> {
        let encoder = zstd::Encoder::new(pending, level)
            .map_err(|e| StepError::fatal(format!("zstd: {e}")))?;
        let mut tar = tar::Builder::new(encoder);
        tar.follow_symlinks(false);
        selection.walk(|entry, rel| {
            tar.append_path_with_name(entry.path(), rel)
                .map_err(|e| StepError::fatal(format!("archiving {}: {e}", entry.path().display())))
        })?;
        let encoder = tar
            .into_inner()
            .map_err(|e| StepError::fatal(format!("tar: {e}")))?;
        encoder
            .finish()
            .map_err(|e| StepError::fatal(format!("zstd: {e}")))
    })
    .await
    .map_err(|e| StepError::fatal(format!("the archive task failed: {e}")))??;
    let source_text = std::fs::canonicalize(target(input)?).map_or_else(
        |_| target(input).unwrap_or_default(),
        |p| p.display().to_string(),
    );
    finish(
        pending,
        "files",
        &set,
        source_text,
        started_at,
        vec![("ops".into(), env!("CARGO_PKG_VERSION").into())],
        started,
    )
}

/// `restore files FROM { into = DIR }`: extracts into an empty or absent directory.
pub async fn restore_files(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let started = tokio::time::Instant::now();
    let file = restorable(input, "files", ctx).await?;
    let into = PathBuf::from(
        input
            .str("into")
            .ok_or_else(|| StepError::fatal("`into` is required"))?,
    );
    if into.exists()
        && std::fs::read_dir(&into)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(StepError::fatal(format!(
            "{} is not empty; a restore never overwrites files",
            into.display()
        )));
    }
    tokio::task::spawn_blocking(move || -> Result<(), StepError> {
        std::fs::create_dir_all(&into)
            .map_err(|e| StepError::fatal(format!("cannot create {}: {e}", into.display())))?;
        // First pass: an entry that would land outside `into` (`..`, an absolute path, a
        // hard link out of it) fails the restore, naming it, before anything is written.
        let escaping = escaping_entries(&file)?;
        if !escaping.is_empty() {
            return Err(StepError::fatal(format!(
                "the archive has {} entries that would land outside {}: {}; nothing was restored",
                escaping.len(),
                into.display(),
                interpreter::text::quote(&escaping.join(", "), 1024)
            )));
        }
        let mut archive = archive(&file)?;
        let entries = archive
            .entries()
            .map_err(|e| StepError::fatal(format!("reading the archive: {e}")))?;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| StepError::fatal(format!("reading the archive: {e}")))?;
            let name = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let unpacked = entry.unpack_in(&into).map_err(|e| {
                StepError::fatal(format!("extracting {name} into {}: {e}", into.display()))
            })?;
            if !unpacked {
                return Err(StepError::fatal(format!(
                    "{name} would land outside {}; the restore stopped",
                    into.display()
                )));
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| StepError::fatal(format!("the restore task failed: {e}")))??;
    let mut out = Outputs::new();
    out.insert(
        "duration".into(),
        Value::Duration(Duration::from_millis(started.elapsed().as_millis() as u64)),
    );
    Ok(out)
}

fn archive(
    file: &Path,
) -> Result<tar::Archive<zstd::Decoder<'static, std::io::BufReader<std::fs::File>>>, StepError> {
    let f = std::fs::File::open(file).map_err(|e| StepError::fatal(e.to_string()))?;
    let decoder = zstd::Decoder::new(f).map_err(|e| StepError::fatal(format!("zstd: {e}")))?;
    Ok(tar::Archive::new(decoder))
}

/// Entries whose path (or hard link target) has a `..`, a root or a prefix component.
fn escaping_entries(file: &Path) -> Result<Vec<String>, StepError> {
    use std::path::Component;
    let escapes = |p: &Path| {
        p.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        })
    };
    let mut archive = archive(file)?;
    let mut out = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| StepError::fatal(format!("reading the archive: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| StepError::fatal(format!("reading the archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| StepError::fatal(format!("reading the archive: {e}")))?
            .into_owned();
        let hard_link = entry.header().entry_type().is_hard_link();
        let link = entry.link_name().ok().flatten().map(|l| l.into_owned());
        if escapes(&path) || (hard_link && link.as_deref().is_some_and(escapes)) {
            out.push(path.display().to_string());
        }
    }
    Ok(out)
}
