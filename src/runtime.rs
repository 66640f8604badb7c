//! What `ops plan` and `ops run` share: loading and checking the runbook, collecting
//! parameter inputs, the static-preflight environment, secrets, and printing
//! plan errors as diagnostics.

use std::path::Path;

use interpreter::plan::params::{self, InputSource, ParamInput, RawValue};
use interpreter::plan::{self, Plan, PlanRequest};
use interpreter::step::Registry;
use lang::compile::Compiled;
use lang::diag::render::{self, RenderOptions};
use lang::hir::SecretSource;
use lang::{Diagnostic, Program};

use crate::cli::InputArgs;
use crate::files::{self, FsLoader};

/// The `ops` version planned and run with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A runbook that loaded and checked without errors (and every runbook it calls).
pub struct Loaded {
    /// The runbook, the files it reaches and their checks.
    compiled: Compiled,
}

impl Loaded {
    /// The runbook and the files it reaches.
    pub fn program(&self) -> &Program {
        &self.compiled.program
    }

    /// The checked program.
    pub fn hir(&self) -> Result<lang::hir::Hir<'_>, String> {
        self.compiled.hir()
    }
}

/// Loads and checks `path`; prints the diagnostics and returns `None` on errors.
pub fn load(path: &Path, color: bool) -> Option<Loaded> {
    check_program(read_program(path), &files::display(path), color)
}

/// Reads and parses `path` and every file it reaches, printing nothing.
pub fn read_program(path: &Path) -> Program {
    Program::load(&files::display(path), &FsLoader, &stdlib::SCHEMAS)
}

/// Checks a loaded program; prints the diagnostics and returns `None` on errors.
/// Checks a loaded program and every runbook it calls; prints the diagnostics and returns
/// `None` on errors.
pub fn check_program(program: Program, shown: &str, color: bool) -> Option<Loaded> {
    let options = lang::CompileOptions {
        check: crate::check::options().ok().unwrap_or_default(),
        callees: true,
    };
    let compiled = lang::compile::check_program(program, &stdlib::SCHEMAS, &options);
    let errors = compiled.errors();
    if !errors.is_empty() || compiled.checked().is_none() {
        let render_options = RenderOptions {
            color,
            width: crate::term::width(),
        };
        for d in &errors {
            eprintln!(
                "{}",
                render::human(d, &compiled.program.sources, render_options)
            );
        }
        eprintln!(
            "ops: {shown} has {} error(s); fix them (see `ops check {shown}`) before planning",
            errors.len().max(1)
        );
        return None;
    }
    if compiled.is_library() {
        eprintln!(
            "ops: {shown} is a library (no runbook block or steps); include it from a runbook"
        );
        return None;
    }
    Some(Loaded { compiled })
}

/// Parameter inputs: environment, then vars file, then `--set` (highest precedence).
pub fn inputs(args: &InputArgs) -> Result<Vec<ParamInput>, String> {
    let mut out = Vec::new();
    for (key, value) in std::env::vars_os() {
        let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
            continue;
        };
        if let Some(name) = key.strip_prefix("OPS_VAR_") {
            out.push(ParamInput {
                name: name.to_string(),
                raw: RawValue::Text(value.to_string()),
                source: InputSource::Env,
            });
        }
    }
    if let Some(path) = &args.vars_file {
        let bytes = files::read_capped(path)
            .map_err(|e| format!("cannot read --vars-file {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("--vars-file {} is not UTF-8 text", path.display()))?;
        let vars = params::parse_vars_file(&text)
            .map_err(|e| format!("--vars-file {}: {e}", path.display()))?;
        out.extend(vars.into_iter().map(|(name, raw)| ParamInput {
            name,
            raw,
            source: InputSource::VarsFile,
        }));
    }
    for set in &args.set {
        let (name, value) = params::parse_assignment(set).map_err(|e| format!("--set {e}"))?;
        out.push(ParamInput {
            name,
            raw: RawValue::Text(value),
            source: InputSource::Set,
        });
    }
    Ok(out)
}

/// The real environment and filesystem, for the static preflight.
pub struct RealEnv;

impl plan::Environment for RealEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn readable(&self, path: &str) -> Result<(), String> {
        std::fs::File::open(path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn secret(&self, source: &SecretSource) -> Option<String> {
        let value = read_secret(source)?;
        // What planning logs or a panic while planning prints is redacted too.
        crate::logging::add_secret(&value);
        Some(value)
    }
}

/// Plans a loaded runbook.
pub fn make_plan(
    loaded: &Loaded,
    registry: &Registry,
    inputs: Vec<ParamInput>,
    start_at: Option<String>,
) -> Result<Plan, Vec<Diagnostic>> {
    let hir = loaded
        .hir()
        .map_err(|why| vec![lang::diag::plan::not_plannable(&why)])?;
    plan::plan(&PlanRequest {
        hir: &hir,
        registry,
        inputs,
        start_at,
        ops_version: VERSION.to_string(),
        env: &RealEnv,
        now: now().map_err(|e| vec![e])?,
    })
}

/// The moment plans are made for: `OPS_NOW` (an RFC 3339 timestamp, to pin the clock in
/// tests and rehearsals) or the system clock.
pub fn now() -> Result<jiff::Timestamp, Diagnostic> {
    match std::env::var("OPS_NOW") {
        Ok(text) => text.parse::<jiff::Timestamp>().map_err(|e| {
            lang::diag::plan::not_plannable(&format!(
                "OPS_NOW=`{text}` is not a timestamp like 2026-12-05T02:00:00Z: {e}"
            ))
        }),
        Err(_) => Ok(jiff::Timestamp::now()),
    }
}

/// Prints plan errors through the one diagnostics renderer (a snippet when they point
/// into the runbook).
pub fn print_plan_errors(errors: &[Diagnostic], program: &Program, color: bool) {
    let options = RenderOptions {
        color,
        width: crate::term::width(),
    };
    for d in errors {
        eprintln!("{}", render::human(d, &program.sources, options));
    }
}

/// From now on, log lines and panic messages are scrubbed of these secrets (the panic
/// hook, installed at start-up, reads the same redactor).
pub fn protect_secrets(redactor: interpreter::redact::Redactor) {
    crate::logging::set_redactor(redactor);
}

/// Reads every secret the plan declares (values never enter the plan).
pub fn read_secrets(plan: &Plan) -> std::collections::HashMap<String, String> {
    plan.secrets
        .iter()
        .filter_map(|s| read_secret(&s.source).map(|v| (s.source.describe(), v)))
        .collect()
}

/// A redactor for every secret the plan declares: for what the CLI prints of a plan.
pub fn redactor(plan: &Plan) -> interpreter::redact::Redactor {
    let secrets = read_secrets(plan);
    interpreter::redact::Redactor::new(secrets.values().map(String::as_str))
}

/// One secret's value by its source (a file's trailing line break removed).
fn read_secret(source: &SecretSource) -> Option<String> {
    match source {
        SecretSource::Env(var) => std::env::var(var).ok(),
        SecretSource::File(path) => files::read_capped(Path::new(path))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(|t| t.strip_suffix('\n').map(str::to_string).unwrap_or(t))
            .map(|t| t.strip_suffix('\r').map(str::to_string).unwrap_or(t)),
    }
}

/// The runbook id and the named locks it declares (`lock = [...]`), from its metadata:
/// known before planning, so a run takes its locks first.
pub fn run_locks(loaded: &Loaded) -> (String, Vec<String>) {
    let Ok(hir) = loaded.hir() else {
        return (String::new(), Vec::new());
    };
    hir.meta
        .map(|m| (m.id.clone(), m.locks.clone()))
        .unwrap_or_default()
}

/// Hands `value` to the end of the process instead of freeing it: the command is about
/// to exit, and freeing a large program or plan piece by piece costs up to a fifth of an
/// `ops plan` (the kernel takes the memory back at exit at no cost). Only for what lives
/// until a one-shot command returns its exit code; never in a loop.
pub fn keep_until_exit<T>(value: T) {
    let _kept = std::mem::ManuallyDrop::new(value);
}
