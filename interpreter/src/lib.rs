//! The ops interpreter: planner (pure), executor (tokio), the Step trait and registry,
//! values, events and reporters.
//!
//! Pipeline position: checked runbook (from `lang`) → plan → run → events → reporters.
//! The planner and executor arrive with the interpreter issue; this crate exists so
//! the workspace layout and dependency direction (`lang` ← `interpreter` ← `stdlib`)
//! are fixed from the start.
