//! `backup verify`: re-hash, check per kind, record the result in the manifest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;

use super::run::*;
use super::store::{self, Verification};

/// `backup verify PATH`: checks a backup and records the result in its manifest.
pub async fn verify(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let path = PathBuf::from(target(input)?);
    let set = limit_set(input);
    let (file, mut manifest) = resolve(&path, set.as_deref(), false)?;
    let mut result = check(&file, &manifest, ctx).await;
    if input.attr("deep").and_then(Value::as_bool) == Some(true)
        && let Ok(method) = &result
    {
        result = super::deep::check(&file, &manifest, input, ctx)
            .await
            .map(|found| format!("{method} + {found}"));
    }
    // What a failed check says may quote the world (a scratch URL, a tool's output):
    // redacted before it is written to the manifest.
    let verified = match &result {
        Ok(method) => Verification {
            at: store::now(),
            method: ctx.secrets.redact(method),
            ok: true,
            detail: String::new(),
        },
        Err(why) => Verification {
            at: store::now(),
            method: String::from("sha256"),
            ok: false,
            detail: ctx.secrets.redact(why),
        },
    };
    manifest = store::update_manifest(&file, |m| m.verified = Some(verified))?;
    if let Err(why) = result {
        return Err(StepError::fatal(format!(
            "{} failed verification: {why}",
            file.display()
        )));
    }
    let age = manifest
        .finished_at()
        .map(|t| jiff::Timestamp::now().duration_since(t))
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or_default();
    if let Some(max) = input.attr("max_age").and_then(Value::as_duration) {
        // Freshness: the newest verified backup of the set must be younger than max_age.
        let dir = file.parent().unwrap_or(Path::new("."));
        let newest = store::list(dir, Some(&manifest.set))?
            .into_iter()
            .rev()
            .find(|(_, m)| m.is_verified())
            .and_then(|(_, m)| m.finished_at());
        let newest_age = newest
            .map(|t| jiff::Timestamp::now().duration_since(t))
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::MAX);
        if newest_age > max {
            return Err(StepError::fatal(format!(
                "the newest verified backup of `{}` is {} old; max_age is {}",
                manifest.set,
                lang::fmt::duration(Duration::from_secs(newest_age.as_secs())),
                lang::fmt::duration(max)
            )));
        }
    }
    let mut out = Outputs::new();
    out.insert("path".into(), Value::str(file.display().to_string()));
    out.insert(
        "age".into(),
        Value::Duration(Duration::from_secs(age.as_secs())),
    );
    out.insert("sha256".into(), Value::str(manifest.sha256));
    Ok(out)
}
