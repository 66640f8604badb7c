//! Messages of the run phase (OPS3030–3037): a step that failed, pointing at the step or
//! at the `expect` that did not hold.

use super::{Code, Diagnostic};
use crate::ast::Span;

/// A failed step: `step ID `LABEL`: what happened`, labelled at the step or expectation.
pub fn step_failed(code: Code, at: Span, id: &str, label: &str, message: &str) -> Diagnostic {
    let here = match code {
        Code::ExpectationFailed => "this expectation failed",
        _ => "this step failed",
    };
    Diagnostic::new(code, at, format!("step {id} `{label}`: {message}"), here)
}
