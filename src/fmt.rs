//! `ops fmt`: placeholder until the formatter lands.
use crate::cli::{Cli, FmtArgs};
/// Runs `ops fmt`.
pub fn run(_cli: &Cli, _args: &FmtArgs) -> i32 { 2 }
