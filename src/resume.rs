//! `ops resume [RUN]`: go on with an interrupted or failed run. Steps an earlier attempt
//! finished are not run again (their outputs come from the journal); a step that was cut
//! off runs again when it is read-only or idempotent, and otherwise only with the
//! operator's yes. Refused when the journal does not verify, the run ended ok, or the
//! runbook, its parameters, the `ops` version or the plan's steps changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use interpreter::exec::Earlier;
use interpreter::journal::{self, Header, Journal};
use interpreter::plan::params::{InputSource, ParamInput, RawValue};
use interpreter::value::Value;

use crate::cli::{Cli, EXIT_USAGE, InputArgs, ResumeArgs, RunArgs};
use crate::index::Index;
use crate::run::{Attempt, Source};

/// What `ops resume` takes from the journal of the run it continues.
pub struct Resuming {
    /// The run id.
    pub run: String,
    /// The journal's header.
    pub header: Header,
    /// When the run first started (RFC 3339).
    pub started: String,
    /// Resumes before this one.
    pub resumes: u32,
    /// Names of the users who resumed it before.
    pub operators: Vec<String>,
}

/// Runs `ops resume`.
pub fn run(cli: &Cli, args: &ResumeArgs) -> i32 {
    let color = cli.color.enabled();
    if args.format == crate::cli::PlanFormat::Md {
        eprintln!(
            "ops resume: `--format md` is for plans; use `--report-md FILE` for a run report"
        );
        return EXIT_USAGE;
    }
    let state = state_here(args.control.state_dir.as_deref());
    let run = match pick(&state, args.run.as_deref()) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("ops resume: {e}");
            return EXIT_USAGE;
        }
    };
    let refuse = |why: &str, help: &str| {
        let d = lang::diag::plan::resume_refused(&run, why, help);
        crate::runtime::print_plan_errors(&[d], &lang::Program::default(), color);
        EXIT_USAGE
    };
    let path = journal::path(&state, &run);
    let read = match Journal::read(&path) {
        Ok(j) => j,
        Err(e) => return refuse(&e, "`ops history` lists the runs of this state directory"),
    };
    let verdict = journal::check(&read, &run);
    if !verdict.ok() {
        return refuse(
            &format!(
                "its journal does not verify ({})",
                verdict.problems.join("; ")
            ),
            "`ops audit verify RUN` shows where the chain breaks; start a new run",
        );
    }
    let Some(header) = read.header() else {
        return refuse("its journal has no header", "start a new run");
    };
    if header.ops_version != crate::runtime::VERSION {
        return refuse(
            &format!(
                "it started with ops {}, this is ops {}",
                header.ops_version,
                crate::runtime::VERSION
            ),
            "resume it with the ops version it started with, or start a new run",
        );
    }
    if ended_ok(&read) {
        return refuse("it ended ok", "there is nothing left to run");
    }
    // The run goes on where it started: its file and relative parameters mean the same.
    let state = std::path::absolute(&state).unwrap_or(state);
    if let Err(e) = std::env::set_current_dir(&header.cwd) {
        return refuse(
            &format!(
                "it started in {}, which cannot be entered now: {e}",
                header.cwd
            ),
            "resume it on the machine and checkout it started in",
        );
    }
    let program = crate::runtime::read_program(Path::new(&header.file));
    let hash = interpreter::plan::content_hash(&program);
    if hash != header.hash {
        return refuse(
            &format!(
                "the runbook {} (or a file it reaches) changed since the run started (sha256 {} then, {hash} now)",
                header.file, header.hash
            ),
            "resume runs the runbook the run started with; restore it, or start a new run",
        );
    }
    let Some(loaded) = crate::runtime::check_program(program, &header.file, color) else {
        return EXIT_USAGE;
    };
    if let Some(p) = header
        .params
        .iter()
        .find(|p| p.value.to_string().contains(interpreter::value::REDACTED))
    {
        return refuse(
            &format!(
                "parameter `{}` held secret text, which the journal does not keep",
                p.name
            ),
            "start a new run with the parameter given again",
        );
    }
    let inputs = header
        .params
        .iter()
        .map(|p| ParamInput {
            name: p.name.clone(),
            raw: RawValue::Json(p.value.clone()),
            source: InputSource::Set,
        })
        .collect();
    let source = Source::Fresh(inputs, header.start_at.clone());
    let mut control = args.control.clone();
    control.state_dir = Some(state.clone());
    let run_args = RunArgs {
        file: Some(PathBuf::from(&header.file)),
        inputs: InputArgs::default(),
        dry_run: false,
        preflight: false,
        out: None,
        plan: None,
        format: args.format,
        control,
    };
    let registry = stdlib::registry();
    let resuming = Resuming {
        run,
        header,
        started: read.records[0].at.clone(),
        resumes: read.events("resumed").count() as u32,
        operators: Vec::new(),
    };
    crate::run::launch(
        cli,
        &run_args,
        &loaded,
        &source,
        &registry,
        Attempt::Resume(Box::new(resuming)),
    )
}

/// The state directory when no runbook names it: `--state-dir`, `OPS_STATE_DIR`, or
/// `.ops/` at the repository root of the current directory.
pub fn state_here(explicit: Option<&Path>) -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    crate::state::state_dir_in(explicit, &here)
}

/// The run to resume: the one named, or the latest that did not end ok.
fn pick(state: &Path, named: Option<&str>) -> Result<String, String> {
    if let Some(run) = named {
        if !journal::valid_run_id(run) {
            return Err(format!("`{run}` is not a run id"));
        }
        return Ok(run.to_string());
    }
    let mut index = Index::open(state)?;
    index.sweep(state)?;
    match index.list(None, 1)?.into_iter().next() {
        None => Err(format!("there are no runs in {}", state.display())),
        Some(r) if r.status == "ok" => Err(format!(
            "the latest run, {}, ended ok; nothing to resume (name an earlier run to resume it)",
            r.run
        )),
        Some(r) if journal::valid_run_id(&r.run) => Ok(r.run),
        Some(r) => Err(format!(
            "the index names a run `{}` that is not a run id",
            r.run
        )),
    }
}

/// True when the journal's last attempt ended ok.
pub fn ended_ok(j: &Journal) -> bool {
    let last_start = j
        .records
        .iter()
        .rposition(|r| r.event == "resumed" || r.event == "journal_started")
        .unwrap_or(0);
    j.records[last_start..]
        .iter()
        .any(|r| r.event == "run_finished" && r.json["status"] == "ok")
}

/// What every attempt finished, and what the last one left cut off.
pub fn progress(j: &Journal) -> (HashMap<String, Earlier>, Vec<String>) {
    let mut earlier = HashMap::new();
    let mut open: Vec<String> = Vec::new();
    for r in &j.records {
        let id = r.json["id"].as_str().unwrap_or_default().to_string();
        match r.event.as_str() {
            // A step cut off stays in doubt until an attempt finishes it, even across
            // attempts that stopped before reaching it.
            "step_started" if !open.contains(&id) => open.push(id),
            "step_finished" => {
                open.retain(|o| o != &id);
                let status = r.json["status"].as_str().unwrap_or_default();
                match status {
                    "ok" | "failed_continued" | "reused" => {
                        let values = &r.json["values"];
                        let decoded = serde_json::from_value::<Value>(values.clone());
                        earlier.insert(
                            id,
                            Earlier {
                                unreadable: !values.is_null() && decoded.is_err(),
                                outputs: decoded.ok().filter(|_| !values.is_null()),
                                at: r.at.clone(),
                            },
                        );
                    }
                    // Stopped half-way: it may have done part of its work.
                    "cancelled" if r.json["attempts"].as_u64().unwrap_or(0) > 0 => open.push(id),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    // A step that finished in one attempt and was cut off in a later one (a handler's
    // step) is not done: it runs again.
    for id in &open {
        earlier.remove(id);
    }
    (earlier, open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(lines: &[&str]) -> Journal {
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{{\"seq\":{i},\"at\":\"2026-12-02T00:00:0{i}Z\",{l}}}\n"))
            .collect();
        Journal::parse(text.as_bytes())
    }

    #[test]
    fn a_cut_off_step_stays_in_doubt_until_an_attempt_finishes_it() {
        let j = journal(&[
            r#""event":"journal_started""#,
            r#""event":"step_started","id":"1","attempt":1"#,
            r#""event":"step_finished","id":"1","status":"ok","attempts":1,"values":{"map":{}}"#,
            r#""event":"step_started","id":"2","attempt":1"#,
            // killed in step 2; the next attempt stopped before reaching it
            r#""event":"resumed""#,
            r#""event":"step_finished","id":"1","status":"reused","attempts":0,"values":{"map":{}}"#,
            r#""event":"resumed""#,
        ]);
        let (earlier, cut_off) = progress(&j);
        assert_eq!(cut_off, ["2"]);
        assert!(earlier.contains_key("1") && !earlier.contains_key("2"));
        // Outputs that cannot be read back are not taken for none.
        let j = journal(&[
            r#""event":"journal_started""#,
            r#""event":"step_finished","id":"1","status":"ok","attempts":1,"values":{"nonsense":1}"#,
        ]);
        let (earlier, _) = progress(&j);
        assert!(earlier["1"].unreadable);
    }
}
