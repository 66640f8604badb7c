//! The ops interpreter: planner, executor, the Step trait and registry, values,
//! events and reporters.
//!
//! Pipeline position: checked runbook (`lang`) ─plan→ [`plan::Plan`] ─run→
//! [`event::Event`]s ─→ reporters. The stdlib registers its step kinds in a
//! [`step::Registry`]; the CLI wires the two together.

pub mod eval;
pub mod event;
pub mod exec;
pub mod fs;
pub mod journal;
pub mod plan;
pub mod plan_render;
pub mod redact;
pub mod run_report;
pub mod step;
pub mod text;
pub mod value;
pub mod world;
