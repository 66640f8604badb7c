//! `ops list [DIR]` and `ops catalog [DIR]`: the runbook catalog from each runbook's
//! metadata (category, procedure, owner, complexity, budget, last validation), grouped by
//! category, with runbooks whose validation is older than their `max_age` marked overdue.
//! Nothing is run; files are parsed and checked only to read their `runbook` block.

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use lang::CheckOptions;
use serde::Serialize;

use crate::cli::{CatalogArgs, CatalogFormat, EXIT_OK, EXIT_USAGE, ListArgs};
use crate::files::{self, FsLoader};

/// One runbook as the catalog shows it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Entry {
    /// The runbook id.
    pub id: String,
    /// The file, relative to the catalog's directory.
    pub path: String,
    /// `title`.
    pub title: String,
    /// `description`.
    pub description: Option<String>,
    /// `category` (`uncategorized` when absent).
    pub category: String,
    /// `owner`.
    pub owner: Option<String>,
    /// `complexity`.
    pub complexity: Option<&'static str>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `budget`, written like in a runbook (`10m`).
    pub budget: Option<String>,
    /// `validated`.
    pub validated: Option<String>,
    /// `validated + max_age`: when the next validation is due.
    pub due: Option<String>,
    /// The validation is older than `max_age` (or missing while `max_age` is set).
    pub overdue: bool,
    /// Errors `ops check` finds in it (a catalog lists broken runbooks too).
    pub errors: usize,
}

/// Reads the metadata of every runbook under `dir` (libraries are skipped).
pub fn entries(dir: &Path, today: Date) -> Result<Vec<Entry>, String> {
    let paths = files::collect(&[dir.to_path_buf()])?;
    let mut out: Vec<Entry> = paths
        .iter()
        .filter_map(|path| entry(path, dir, today))
        .collect();
    out.sort_by(|a, b| (&a.category, &a.id).cmp(&(&b.category, &b.id)));
    Ok(out)
}

/// One file's catalog entry, its path shown relative to `dir`; `None` for a library.
pub fn entry(path: &Path, dir: &Path, today: Date) -> Option<Entry> {
    let shown = files::display(path);
    let options = lang::CompileOptions {
        check: CheckOptions { today: Some(today) },
        callees: false,
    };
    let compiled = lang::compile(&shown, &FsLoader, &stdlib::SCHEMAS, &options);
    if compiled.is_library() {
        return None;
    }
    let errors = compiled.diagnostics().filter(|d| d.is_error()).count();
    let meta = compiled.checks.into_iter().next().and_then(|c| c.meta);
    let rel = relative(path, dir);
    let Some(meta) = meta else {
        return Some(Entry {
            id: rel.clone(),
            path: rel,
            title: String::from("(cannot be read)"),
            category: String::from("uncategorized"),
            errors: errors.max(1),
            ..Entry::default()
        });
    };
    let due = match (meta.validated, meta.max_age) {
        (Some(v), Some(age)) => {
            let days = i64::try_from(age.as_secs() / 86_400).unwrap_or(i64::MAX);
            v.checked_add(jiff::Span::new().days(days.min(100_000)))
                .ok()
        }
        _ => None,
    };
    let overdue = match (meta.validated, meta.max_age) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(_), Some(_)) => due.is_some_and(|d| d < today),
    };
    Some(Entry {
        id: meta.id,
        path: rel,
        title: meta.title.unwrap_or_default(),
        description: meta.description,
        category: meta
            .category
            .unwrap_or_else(|| String::from("uncategorized")),
        owner: meta.owner,
        complexity: meta.complexity.map(|c| c.as_str()),
        tags: meta.tags,
        budget: meta.budget.map(lang::fmt::duration),
        validated: meta.validated.map(|d| d.to_string()),
        due: due.map(|d| d.to_string()),
        overdue,
        errors,
    })
}

fn relative(path: &Path, dir: &Path) -> String {
    files::display(path.strip_prefix(dir).unwrap_or(path))
}

fn today() -> Result<Date, String> {
    crate::check::options().map(|o| o.today.unwrap_or_default())
}

fn load(dir: &Path, tag: Option<&str>) -> Result<Vec<Entry>, String> {
    let mut all = entries(dir, today()?)?;
    if let Some(tag) = tag {
        all.retain(|e| e.tags.iter().any(|t| t == tag));
    }
    Ok(all)
}

/// Runs `ops list`.
pub fn list(args: &ListArgs) -> i32 {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let all = match load(&dir, args.tag.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ops list: {e}");
            return EXIT_USAGE;
        }
    };
    if args.json {
        let json = serde_json::json!({ "version": 1, "runbooks": all });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return EXIT_OK;
    }
    let width = |f: fn(&Entry) -> usize, min: usize| all.iter().map(f).max().unwrap_or(0).max(min);
    let (w_id, w_cat) = (width(|e| e.id.len(), 2), width(|e| e.category.len(), 8));
    println!(
        "{:<w_id$}  {:<w_cat$}  {:<12}  {:<10}  PATH",
        "ID", "CATEGORY", "COMPLEXITY", "VALIDATED"
    );
    for e in &all {
        let validated = e.validated.as_deref().unwrap_or("never");
        let mark = match (e.overdue, e.errors) {
            (_, n) if n > 0 => format!("  ({n} errors)"),
            (true, _) => String::from("  (validation overdue)"),
            _ => String::new(),
        };
        println!(
            "{:<w_id$}  {:<w_cat$}  {:<12}  {:<10}  {}{mark}",
            e.id,
            e.category,
            e.complexity.unwrap_or("-"),
            validated,
            e.path
        );
    }
    EXIT_OK
}

/// Runs `ops catalog`.
pub fn catalog(args: &CatalogArgs) -> i32 {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let all = match load(&dir, None) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ops catalog: {e}");
            return EXIT_USAGE;
        }
    };
    let text = match args.format {
        CatalogFormat::Md => markdown(&all, &files::display(&dir)),
        CatalogFormat::Json => {
            let json = serde_json::json!({ "version": 1, "runbooks": all });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            )
        }
    };
    match &args.out {
        Some(path) => {
            if let Err(e) = interpreter::fs::write_atomic(path, text.as_bytes()) {
                eprintln!("ops catalog: cannot write {}: {e}", path.display());
                return EXIT_USAGE;
            }
        }
        None => print!("{text}"),
    }
    EXIT_OK
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The catalog as Markdown: one table per category. Links are relative to the catalog's
/// directory, so the file can live there (`runbooks/README.md`).
pub fn markdown(all: &[Entry], dir: &str) -> String {
    let mut out = String::from("# Runbook catalog\n\n");
    out.push_str(&format!(
        "Generated from each runbook's metadata by `ops catalog {dir} --format md`; do not edit by hand.\n\
         {} runbooks; **overdue** marks a runbook whose last validation is older than its `max_age`.\n",
        all.len()
    ));
    let mut category: Option<&str> = None;
    for e in all {
        if category != Some(e.category.as_str()) {
            category = Some(e.category.as_str());
            out.push_str(&format!(
                "\n## {}\n\n| Procedure | Purpose | Owner | Complexity | Budget | Last validated |\n|---|---|---|---|---|---|\n",
                cell(&e.category)
            ));
        }
        let validated = match (&e.validated, &e.due, e.overdue) {
            (Some(v), _, true) => format!("{v} **overdue**"),
            (Some(v), Some(d), false) => format!("{v} (due {d})"),
            (Some(v), None, false) => v.clone(),
            (None, _, true) => String::from("never **overdue**"),
            (None, _, false) => String::from("never"),
        };
        let broken = if e.errors > 0 {
            format!(" ({} errors)", e.errors)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "| [{}]({}) `{}`{broken} | {} | {} | {} | {} | {} |\n",
            cell(&e.title),
            e.path,
            e.id,
            cell(e.description.as_deref().unwrap_or("")),
            cell(e.owner.as_deref().unwrap_or("")),
            e.complexity.unwrap_or(""),
            e.budget.as_deref().unwrap_or(""),
            validated
        ));
    }
    out
}
