//! What a plan says of a backup step given what earlier steps of the same run do to its
//! backup directory (the world model of `interpreter::world`): a prune after a backup
//! counts the new backup, a restore after a backup and a verify names the backup it will
//! restore. What depends on the run (a step that may not run, ages judged when the prune
//! runs) is said with its provenance, never as a fact.

use std::path::Path;

use indexmap::IndexMap;
use interpreter::step::{InputView, Ref};
use interpreter::value::Value;
use interpreter::world::{Prior, Resource, Touches, Write};

use super::Backup;
use super::prune::{Entry, Policy, select};
use super::store;
use crate::conn::Flavor;
use crate::touch;

/// The resource kind of a backup directory.
pub const BACKUP_DIR: &str = "backup-dir";

/// A set name cleaned as a backup names its files (`set_name` at run time).
pub fn clean_set(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .take(super::MAX_SET_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches('-').to_string();
    if clean.is_empty() {
        String::from("backup")
    } else {
        clean
    }
}

/// The set a backup step writes, when the plan can tell.
fn backup_set(variant: Backup, view: &InputView) -> Option<String> {
    if let Some(set) = view.value("set").and_then(Value::as_str) {
        return Some(clean_set(set));
    }
    let source = match view.reference(None)? {
        Ref::Value(v) => v.as_str()?.to_string(),
        _ => return None,
    };
    let fallback = match variant {
        Backup::Postgres => crate::conn::ConnUrl::postgres(&source)
            .ok()?
            .database
            .unwrap_or_else(|| String::from("postgres")),
        Backup::Redis => format!("redis-{}", crate::conn::ConnUrl::redis(&source).ok()?.port),
        Backup::Files => Path::new(&source)
            .file_name()
            .map_or_else(|| "files".to_string(), |n| n.to_string_lossy().into_owned()),
        _ => return None,
    };
    Some(clean_set(&fallback))
}

/// The set a verify, prune or restore step is limited to (`None`: every set).
fn step_set(view: &InputView) -> Option<String> {
    view.value("set").and_then(Value::as_str).map(clean_set)
}

fn map(pairs: &[(&str, Value)]) -> Value {
    let mut m = IndexMap::new();
    for (k, v) in pairs {
        m.insert((*k).to_string(), v.clone());
    }
    Value::Map(m)
}

fn opt(text: Option<String>) -> Value {
    text.map_or(Value::Null, Value::str)
}

/// The backup directories a verify or restore target means: the directory, the
/// directory of a file, or what the earlier steps whose output it is write.
fn dirs_of_target(view: &InputView) -> Vec<Resource> {
    match view.reference(None) {
        Some(Ref::Value(Value::Str(path))) => {
            let p = Path::new(path.as_str());
            let dir = if p.is_file() {
                p.parent()
                    .map_or_else(|| ".".into(), |d| d.to_string_lossy().into_owned())
            } else {
                path.clone()
            };
            vec![Resource::new(BACKUP_DIR, touch::normal_path(&dir))]
        }
        Some(Ref::After(ids)) => ids
            .iter()
            .flat_map(|id| view.world.written_by(id).iter())
            .filter(|r| r.kind == BACKUP_DIR)
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// The plan ids a verify's target is the output of (`dump.path`), if any.
fn target_steps(view: &InputView) -> Vec<String> {
    match view.reference(None) {
        Some(Ref::After(ids)) => ids.to_vec(),
        _ => Vec::new(),
    }
}

/// What a backup step reads and writes.
pub fn touches(variant: Backup, view: &InputView) -> Touches {
    let write = |resource: Resource, state: Value| Write { resource, state };
    match variant {
        Backup::Postgres | Backup::Redis | Backup::Files => {
            let reads = match variant {
                Backup::Postgres => touch::database(view, None, Flavor::Postgres),
                Backup::Redis => touch::database(view, None, Flavor::Redis),
                _ => Vec::new(),
            };
            let writes = touch::dir(view, Some("into"), BACKUP_DIR)
                .map(|d| write(d, map(&[("adds", opt(backup_set(variant, view)))])))
                .into_iter()
                .collect();
            Touches {
                reads,
                writes,
                opaque: false,
            }
        }
        Backup::Verify => {
            let dirs = dirs_of_target(view);
            let steps = target_steps(view);
            let verifies = if steps.is_empty() {
                Value::str("newest")
            } else {
                Value::List(steps.into_iter().map(Value::str).collect())
            };
            let state = map(&[("verifies", verifies), ("set", opt(step_set(view)))]);
            Touches {
                reads: dirs.clone(),
                writes: dirs.into_iter().map(|d| write(d, state.clone())).collect(),
                opaque: false,
            }
        }
        Backup::Prune => {
            let dirs: Vec<Resource> = touch::dir(view, None, BACKUP_DIR).into_iter().collect();
            let state = map(&[("prunes", opt(step_set(view)))]);
            Touches {
                reads: dirs.clone(),
                writes: dirs.into_iter().map(|d| write(d, state.clone())).collect(),
                opaque: false,
            }
        }
        Backup::RestorePostgres | Backup::RestoreRedis | Backup::RestoreFiles => {
            let into = match variant {
                Backup::RestorePostgres => touch::database(view, Some("into"), Flavor::Postgres),
                Backup::RestoreRedis => touch::database(view, Some("into"), Flavor::Redis),
                _ => touch::dir(view, Some("into"), "path").into_iter().collect(),
            };
            // What is restored is the database (not its endpoint, which stays up).
            let writes = into
                .into_iter()
                .filter(|r| r.kind != "endpoint")
                .map(|r| write(r, Value::Null))
                .collect();
            Touches {
                reads: dirs_of_target(view),
                writes,
                opaque: false,
            }
        }
    }
}

/// One earlier backup of the run into the directory, as a prune or restore sees it.
struct Added {
    step: String,
    certain: bool,
    /// The verify that checks it after it, if any (and whether that one is certain).
    verified_by: Option<(String, bool)>,
}

/// Whether a set a step writes (`None`: the plan cannot tell) may be the set a later
/// step is limited to (`None`: every set). `Some(true)`: surely; `Some(false)`: maybe.
fn same_set(written: &Value, limit: Option<&str>) -> Option<bool> {
    match (written.as_str(), limit) {
        (_, None) => Some(true),
        (Some(w), Some(l)) if w == l => Some(true),
        (Some(_), Some(_)) => None,
        (None, Some(_)) => Some(false),
    }
}

/// The backups the run adds to `dir` (of `set`) before this step, with their verifies.
fn added(priors: &[Prior], set: Option<&str>) -> Vec<Added> {
    let mut out: Vec<Added> = Vec::new();
    // Every backup the run adds to the directory, of any set: what `verify DIR` means.
    let mut every: Vec<(String, Value)> = Vec::new();
    for p in priors {
        let Some(state) = p.state.as_map() else {
            continue;
        };
        if let Some(written) = state.get("adds") {
            every.push((p.step.clone(), written.clone()));
            let Some(sure) = same_set(written, set) else {
                continue;
            };
            out.push(Added {
                step: p.step.clone(),
                certain: p.certain && sure,
                verified_by: None,
            });
        } else if let Some(verifies) = state.get("verifies") {
            // `verify dump.path` checks that backup; `verify DIR` the newest one there (of
            // its set): the last one the run adds, only when that one is surely of it.
            let targets: Vec<String> = match verifies {
                Value::List(ids) => ids
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => {
                    let limit = state.get("set").and_then(Value::as_str);
                    let newest = every.iter().rev().find(|(_, w)| match limit {
                        None => true,
                        Some(l) => w.as_str().is_none_or(|w| w == l),
                    });
                    match newest {
                        Some((step, w)) if limit.is_none() || w.as_str() == limit => {
                            vec![step.clone()]
                        }
                        _ => Vec::new(),
                    }
                }
            };
            for a in out.iter_mut().filter(|a| targets.contains(&a.step)) {
                a.verified_by = Some((p.step.clone(), p.certain));
            }
        }
    }
    out
}

fn provenance(adds: &[&Added]) -> String {
    let ids: Vec<String> = adds
        .iter()
        .map(|a| {
            if a.certain {
                a.step.clone()
            } else {
                format!("{} (if it runs)", a.step)
            }
        })
        .collect();
    let noun = if adds.len() == 1 {
        "a backup"
    } else {
        "backups"
    };
    format!("after {} adds {noun}", ids.join(", "))
}

/// The policy in words: `keep_last = 3, keep_within = 24h`.
fn policy_words(policy: &Policy) -> String {
    let mut words = Vec::new();
    if let Some(n) = policy.keep_last {
        words.push(format!("keep_last = {n}"));
    }
    if let Some(d) = policy.keep_within {
        words.push(format!("keep_within = {}", lang::fmt::duration(d)));
    }
    if let Some(n) = policy.keep_daily {
        words.push(format!("keep_daily = {n}"));
    }
    words.join(", ")
}

/// What a prune deletes among today's backups and the ones `adds` make (newest, not
/// verified unless a verify of the run checks them first): names, and how many are kept.
fn simulate(
    existing: &[(std::path::PathBuf, store::Manifest)],
    adds: &[&Added],
    policy: &Policy,
    certain_only: bool,
) -> (Vec<String>, usize) {
    let now = jiff::Timestamp::now();
    let mut entries: Vec<Entry> = existing
        .iter()
        .map(|(_, m)| Entry {
            finished: m.finished_at().unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            verified: m.is_verified(),
        })
        .collect();
    let mut names: Vec<String> = existing
        .iter()
        .map(|(p, _)| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for (i, a) in adds.iter().enumerate() {
        let at = now
            .checked_add(jiff::SignedDuration::from_millis(i as i64 + 1))
            .unwrap_or(now);
        entries.push(Entry {
            finished: at,
            verified: a
                .verified_by
                .as_ref()
                .is_some_and(|(_, certain)| *certain || !certain_only),
        });
        names.push(format!("the backup {} makes", a.step));
    }
    let keep = select(&entries, policy, now);
    let deleted: Vec<String> = names
        .into_iter()
        .zip(&keep)
        .filter(|(_, k)| k.is_none())
        .map(|(n, _)| n)
        .collect();
    let kept = keep.len() - deleted.len();
    (deleted, kept)
}

fn deletes(dir: &str, deleted: &[String], kept: usize) -> String {
    if deleted.is_empty() {
        format!("deletes nothing in {dir} (keeps all {kept})")
    } else {
        format!(
            "deletes {} in {dir}: {} (keeps {kept}, the newest verified among them)",
            deleted.len(),
            deleted.join(", ")
        )
    }
}

/// The dry-run of a prune: which backups it deletes, after the backups the run adds.
pub fn describe_prune(view: &InputView) -> String {
    let Ok(policy) = super::retention::policy(|n| view.value(n).cloned()) else {
        return format!("prunes {} (the policy is invalid)", view.target());
    };
    let Some(dir) = view.target_value.as_ref().and_then(|v| v.as_str()) else {
        return format!("prunes {} by policy", view.target());
    };
    if policy.is_empty() {
        return format!("prunes {dir}: no policy given");
    }
    let set = step_set(view);
    let existing = match store::list(Path::new(dir), set.as_deref()) {
        Ok(list) => list,
        Err(e) if Path::new(dir).exists() => {
            return format!("prunes {dir} (cannot list it now: {})", e.message);
        }
        // Not there yet: an earlier step of the run may create it.
        Err(_) => Vec::new(),
    };
    let resource = Resource::new(BACKUP_DIR, touch::normal_path(dir));
    let all = added(&view.priors(&resource), set.as_deref());
    let adds: Vec<&Added> = all.iter().collect();
    let sure: Vec<&Added> = all.iter().filter(|a| a.certain).collect();
    // Certain only when every backup and every verify of them surely happens.
    let all_certain = sure.len() == adds.len()
        && adds
            .iter()
            .all(|a| a.verified_by.as_ref().is_none_or(|(_, c)| *c));
    let stale = match store::stale(Path::new(dir), set.as_deref()).len() {
        0 => String::new(),
        n => format!("; removes {n} file(s) left by backups that did not finish"),
    };
    // Ages move between the plan and the run: a time rule may delete more then.
    let timed = if policy.keep_within.is_some() || policy.keep_daily.is_some() {
        "; ages are judged when it runs"
    } else {
        ""
    };
    let (deleted, kept) = simulate(&existing, &adds, &policy, false);
    if adds.is_empty() {
        return format!("{}{stale}{timed}", deletes(dir, &deleted, kept));
    }
    let head = format!("{}, per {}", provenance(&adds), policy_words(&policy));
    if all_certain {
        return format!("{head}: {}{stale}{timed}", deletes(dir, &deleted, kept));
    }
    // Some of the backups or their verifies may not happen: both outcomes.
    let (without, kept_without) = simulate(&existing, &sure, &policy, true);
    format!(
        "{head}: {}; if only the steps sure to run do: {}{stale}{timed}",
        deletes(dir, &deleted, kept),
        deletes(dir, &without, kept_without)
    )
}

/// The dry-run of a restore: which backup it restores, given the run's own backups.
pub fn describe_restore(kind: &str, view: &InputView) -> String {
    let into = view.attr("into");
    let plain = format!(
        "restores the verified {kind} backup {} into {into}",
        view.target()
    );
    let Some(Ref::Value(Value::Str(from))) = view.reference(None) else {
        return plain;
    };
    if Path::new(from.as_str()).is_file() {
        return plain;
    }
    let set = step_set(view);
    let resource = Resource::new(BACKUP_DIR, touch::normal_path(from));
    let all = added(&view.priors(&resource), set.as_deref());
    let now = match store::list(Path::new(from.as_str()), set.as_deref()) {
        Ok(list) => list
            .iter()
            .rev()
            .find(|(_, m)| m.is_verified())
            .and_then(|(p, _)| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
        Err(_) => None,
    };
    let now_text = now.map_or_else(
        || String::from("there is none there now"),
        |n| format!("now that is {n}"),
    );
    let verified = all.iter().rev().find(|a| a.verified_by.is_some());
    match verified {
        Some(a) => {
            let (by, by_certain) = a.verified_by.clone().unwrap_or_default();
            if a.certain && by_certain {
                format!(
                    "restores the backup {} makes (verified by {by}), the newest verified one in {from}, into {into}",
                    a.step
                )
            } else {
                format!(
                    "restores the newest verified backup in {from} into {into}: the one {} makes once {by} verifies it, if they run; else the newest verified one before them ({now_text})",
                    a.step
                )
            }
        }
        None if !all.is_empty() => format!(
            "restores the newest verified backup in {from} into {into}: the backup {} makes is not verified before this step, so it is not the one ({now_text})",
            all.last().map(|a| a.step.as_str()).unwrap_or_default()
        ),
        None => {
            format!("restores the newest verified {kind} backup in {from} into {into} ({now_text})")
        }
    }
}
