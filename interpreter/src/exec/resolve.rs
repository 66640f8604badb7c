//! Name resolution at run time: secrets, step outputs and the failure being handled.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Slot;
use crate::eval::Resolve;
use crate::value::Value;

/// Resolves what the plan could not know: secrets, outputs, `failure`.
pub struct RunResolver<'r> {
    pub(super) secrets: &'r HashMap<String, Value>,
    pub(super) slots: &'r Mutex<HashMap<String, Slot>>,
    pub(super) failure: Option<Value>,
}

impl Resolve for RunResolver<'_> {
    fn secret(&self, key: &str) -> Option<Result<Value, String>> {
        Some(
            self.secrets
                .get(key)
                .cloned()
                .ok_or_else(|| format!("the secret from {key} is not available")),
        )
    }

    fn output(&self, id: &str, name: &str) -> Option<Result<Value, String>> {
        let slots = match self.slots.lock() {
            Ok(s) => s,
            Err(_) => {
                return Some(Err(String::from(
                    "internal error: step results unavailable",
                )));
            }
        };
        Some(match slots.get(id) {
            Some(Slot::Done(v)) => Ok(v.clone()),
            Some(Slot::NotRun(why)) => Err(format!("`{name}` has no outputs: {why}")),
            None => Err(format!("`{name}` (step {id}) has not run")),
        })
    }

    fn failure(&self) -> Option<Value> {
        // In an `always` handler after a success, `failure.*` are empty strings.
        Some(self.failure.clone().unwrap_or_else(|| {
            Value::Map(
                ["step", "message", "id"]
                    .into_iter()
                    .map(|k| (k.to_string(), Value::str("")))
                    .collect(),
            )
        }))
    }
}
