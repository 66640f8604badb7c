//! `backup prune`: the policy of a step and what it deletes (the pure rule is `prune.rs`).

use std::path::{Path, PathBuf};

use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;

use super::prune::{Entry, Policy, select};
use super::run::*;
use super::store::{self};

/// The retention policy of a prune step; a count below 1 is refused (a negative
/// `keep_last` must never mean "keep none").
pub fn policy(get: impl Fn(&str) -> Option<Value>) -> Result<Policy, StepError> {
    let count = |name: &str| -> Result<Option<usize>, StepError> {
        match get(name).and_then(|v| v.as_int()) {
            None => Ok(None),
            Some(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Some(n) => Err(
                StepError::fatal(format!("`{name} = {n}`: it must be at least 1"))
                    .with_code(lang::Code::ValueOutOfRange),
            ),
        }
    };
    Ok(Policy {
        keep_last: count("keep_last")?,
        keep_within: get("keep_within").and_then(|v| v.as_duration()),
        keep_daily: count("keep_daily")?,
    })
}

/// What a prune would do: (file, keep reason or None to delete).
pub fn plan_prune(
    dir: &Path,
    set: Option<&str>,
    policy: &Policy,
) -> Result<Vec<(PathBuf, Option<&'static str>)>, StepError> {
    let all = store::list(dir, set)?;
    let entries: Vec<Entry> = all
        .iter()
        .map(|(_, m)| Entry {
            finished: m.finished_at().unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            verified: m.is_verified(),
        })
        .collect();
    let keep = select(&entries, policy, jiff::Timestamp::now());
    Ok(all.into_iter().map(|(p, _)| p).zip(keep).collect())
}

/// `backup prune DIR`: deletes what the policy does not keep (never the newest verified).
pub async fn prune(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let dir = PathBuf::from(target(input)?);
    let policy = policy(|n| input.attr(n).cloned())?;
    if policy.is_empty() {
        return Err(StepError::fatal(
            "a prune needs a policy: keep_last, keep_within or keep_daily",
        ));
    }
    // Under a lock on every backup of the set: no verification changes a manifest
    // between the decision and the deletion.
    let set = limit_set(input);
    let locks = store::lock_set(&dir, set.as_deref())?;
    let decisions = plan_prune(&dir, set.as_deref(), &policy)?;
    let (mut deleted, mut kept) = (0i64, 0i64);
    for (path, keep) in decisions {
        match keep {
            Some(_) => kept += 1,
            None => {
                std::fs::remove_file(&path).map_err(|e| {
                    StepError::fatal(format!("cannot delete {}: {e}", path.display()))
                })?;
                let _ = std::fs::remove_file(store::manifest_path(&path));
                ctx.log(format!("deleted {}", path.display()));
                deleted += 1;
            }
        }
    }
    drop(locks);
    // What writers that died left behind: their temporary files, and manifests whose
    // backup never arrived.
    for path in store::stale(&dir, set.as_deref()) {
        if std::fs::remove_file(&path).is_ok() {
            ctx.log(format!(
                "removed {} (left by a backup that did not finish)",
                path.display()
            ));
        }
    }
    store::sync_dir(&dir)?;
    let mut out = Outputs::new();
    out.insert("deleted".into(), Value::Int(deleted));
    out.insert("kept".into(), Value::Int(kept));
    Ok(out)
}
