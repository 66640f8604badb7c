//! Messages of the check phase (`OPS2xxx`).

use super::{Code, Diagnostic, did_you_mean, one_of};
use crate::ast::Span;

fn listing(items: &[&str]) -> String {
    if items.is_empty() {
        String::from("none")
    } else {
        one_of(items)
    }
}

/// A string that must be fixed text contains `${...}`.
pub fn plain_string_required(at: Span, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::PlainStringRequired,
        at,
        format!("{what} must be written out: it cannot depend on values"),
        "a fixed value is needed here",
    )
    .with_help("write the text literally, without `${...}` or a reference; ops reads it before anything is resolved")
}

/// A runbook without its `runbook` block.
pub fn missing_runbook_block(at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::MissingRunbookBlock,
        at,
        "this runbook has no `runbook \"id\" { ... }` block",
        "the metadata block belongs at the top",
    )
    .with_help("start the file with `runbook \"my-id\" { title = \"...\" owner = \"...\" }`; a file with only `param`, `secret`, `let` and `include` is a library for `include`")
}

/// A second `runbook` block.
pub fn duplicate_runbook_block(at: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateRunbookBlock,
        at,
        "a runbook has one `runbook` block",
        "second `runbook` block",
    )
    .with_related(first, "first one here")
    .with_help("merge the two blocks")
}

/// A declaration that is never used.
pub fn unused_declaration(at: Span, name: &str, kind: &str) -> Diagnostic {
    Diagnostic::new(
        Code::UnusedDeclaration,
        at,
        format!("{kind} `{name}` is never used"),
        "declared here",
    )
    .with_help(if kind == "parameter" {
        "remove it, or use it: a parameter nobody reads is a setting that does nothing"
    } else {
        "remove it, or use it"
    })
}

/// A name declared twice.
pub fn duplicate_definition(
    at: Span,
    name: &str,
    existing: &str,
    here: Option<Span>,
    other_file: Option<String>,
) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::DuplicateDefinition,
        at,
        format!("`{name}` is already defined as a {existing}"),
        "defined again here",
    );
    if let Some(span) = here {
        d = d.with_related(span, "first defined here");
    }
    let help = match other_file {
        Some(path) => format!("`{name}` comes from `{path}`; choose another name"),
        None => format!(
            "names of parameters, secrets, `let` bindings and steps share one namespace; rename one `{name}`"
        ),
    };
    d.with_help(help)
}

/// A type name that does not exist.
pub fn unknown_type(at: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::new(
        Code::UnknownType,
        at,
        format!("unknown type `{name}`"),
        "not a type",
    )
    .with_help(
        help.map(|h| {
            format!(
                "{h} Types: string, int, float, bool, duration, size, url, path, list<T>, map<T>"
            )
        })
        .unwrap_or_else(|| {
            String::from(
                "types: string, int, float, bool, duration, size, url, path, list<T>, map<T>",
            )
        }),
    )
}

/// A statement where it does not belong.
pub fn misplaced(at: Span, what: &str, place: &str, allowed: &str) -> Diagnostic {
    Diagnostic::new(
        Code::MisplacedStatement,
        at,
        format!("{what} is not allowed in {place}"),
        "not allowed here",
    )
    .with_help(format!("{place} may contain: {allowed}"))
}

/// An attribute given twice.
pub fn duplicate_attribute(at: Span, name: &str, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateAttribute,
        at,
        format!("`{name}` is set twice"),
        "set again here",
    )
    .with_related(first, "first set here")
    .with_help("keep one of them")
}

/// A map key given twice.
pub fn duplicate_key(at: Span, key: &str, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateAttribute,
        at,
        format!("key `{key}` appears twice in this map"),
        "repeated key",
    )
    .with_related(first, "first here")
    .with_help("keep one of them")
}

/// A secret with both `env` and `file`.
pub fn conflicting_secret_source(at: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateAttribute,
        at,
        "a secret has one source: `env` or `file`",
        "second source",
    )
    .with_related(first, "first source")
    .with_help("keep either `env = \"VAR\"` or `file = \"/path\"`")
}

/// An attribute the step does not have.
pub fn unknown_attribute(at: Span, name: &str, owner: &str, known: &[&str]) -> Diagnostic {
    let help = match did_you_mean(name, known.iter().copied()) {
        Some(h) => format!("{h} `{owner}` accepts: {}", listing(known)),
        None => format!("`{owner}` accepts: {}", listing(known)),
    };
    Diagnostic::new(
        Code::UnknownAttribute,
        at,
        format!("unknown attribute `{name}` for `{owner}`"),
        "unknown attribute",
    )
    .with_help(help)
}

/// A parameter the called runbook does not declare.
pub fn unknown_call_parameter(at: Span, name: &str, owner: &str, known: &[&str]) -> Diagnostic {
    let help = match did_you_mean(name, known.iter().copied()) {
        Some(h) => format!("{h} The called runbook declares: {}", listing(known)),
        None => format!("the called runbook declares: {}", listing(known)),
    };
    Diagnostic::new(
        Code::UnknownCallParameter,
        at,
        format!("`{owner}` has no parameter `{name}`"),
        "not a parameter of the called runbook",
    )
    .with_help(help)
}

/// A value that is only known once a step has run, where the plan needs it.
pub fn unknown_at_plan_time(at: Span, what: &str, step: &str) -> Diagnostic {
    let source = if step == "failure" {
        String::from("`failure`, which exists only when something failed")
    } else {
        format!("the output of step `{step}`")
    };
    Diagnostic::new(
        Code::UnknownAtPlanTime,
        at,
        format!("{what} must be known when the plan is made, but this depends on {source}"),
        "known only at run time",
    )
    .with_help("use parameters, `let` bindings of them, or literals here; the plan expands and bounds these before anything runs")
}

/// A parameter default not among its allowed values.
pub fn default_not_allowed(at: Span, value: &str, allowed: &[String]) -> Diagnostic {
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    Diagnostic::new(
        Code::DefaultNotAllowed,
        at,
        format!("the default `{value}` is not one of the allowed values"),
        "not allowed",
    )
    .with_help(format!("allowed: {}", listing(&allowed)))
}

/// A library (included file) with something other than declarations.
pub fn invalid_library(at: Span, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidLibrary,
        at,
        format!("{what} is not allowed in an included file"),
        "included files only declare",
    )
    .with_help("an included file may contain only `param`, `secret`, `let` and `include`; to run another runbook's steps, `call` it")
}

/// An `include` or `call` path that cannot be read.
pub fn file_not_found(at: Span, written: &str, resolved: &str, reason: &str) -> Diagnostic {
    Diagnostic::new(
        Code::FileNotFound,
        at,
        format!("cannot read `{written}` (looked for `{resolved}`): {reason}"),
        "this file",
    )
    .with_help("paths are relative to the file that names them")
}

/// An include or call of a file that is not a `.rb.ops` runbook (it is not read).
pub fn link_not_runbook(at: Span, resolved: &str) -> Diagnostic {
    Diagnostic::new(
        Code::LinkNotRunbook,
        at,
        format!("`{resolved}` is not a runbook: `include` and `call` take `.rb.ops` files only"),
        "not a .rb.ops file",
    )
    .with_help("ops did not read it; name a `.rb.ops` library or runbook")
}

/// An included or called file that does not parse: where its first problem is, never
/// what it says (the file may be anything).
pub fn linked_file_invalid(
    at: Span,
    resolved: &str,
    bad: &crate::program::Unparsable,
) -> Diagnostic {
    let more = match bad.count {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Diagnostic::new(
        Code::LinkedFileInvalid,
        at,
        format!(
            "`{resolved}` does not parse as a runbook: {} at line {}, column {}{more}",
            bad.code, bad.line, bad.column
        ),
        "this file",
    )
    .with_help(format!(
        "run `ops check {resolved}` to see its problems (they are not quoted here)"
    ))
}

/// The main file could not be read.
pub fn unreadable_file(path: &str, reason: &str) -> Diagnostic {
    Diagnostic::new(
        Code::FileNotFound,
        Span::at(0),
        format!("cannot read `{path}`: {reason}"),
        "here",
    )
}

/// An include or call cycle.
pub fn link_cycle(at: Span, chain: &[String]) -> Diagnostic {
    Diagnostic::new(
        Code::LinkCycle,
        at,
        format!("this leads back to itself: {}", chain.join(" → ")),
        "cycle",
    )
    .with_help("break the cycle: move shared declarations into a library that both include")
}

/// A word that is not one of an enum's values.
pub fn unknown_enum_value(at: Span, word: &str, what: &str, words: &[&str]) -> Diagnostic {
    let help = match did_you_mean(word, words.iter().copied()) {
        Some(h) => format!("{h} Expected {}", one_of(words)),
        None => format!("expected {}", one_of(words)),
    };
    Diagnostic::new(
        Code::UnknownEnumValue,
        at,
        format!("`{word}` is not a valid value for {what}"),
        "unknown value",
    )
    .with_help(help)
}

/// A value of the wrong type; `literal` when the value is written as a literal.
pub fn type_mismatch(
    at: Span,
    what: &str,
    expected: &str,
    found: &str,
    literal: bool,
) -> Diagnostic {
    let help = if literal {
        type_help(expected, found)
    } else {
        format!(
            "this value is {}; use {} here",
            article(found),
            article(expected)
        )
    };
    Diagnostic::new(
        Code::TypeMismatch,
        at,
        format!(
            "{what} must be {}, but this is {}",
            article(expected),
            article(found)
        ),
        format!("this is {}", article(found)),
    )
    .with_help(help)
}

fn article(ty: &str) -> String {
    if ty.starts_with("one of") || ty.starts_with("a ") || ty.starts_with("an ") {
        ty.to_string()
    } else if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {ty}")
    } else {
        format!("a {ty}")
    }
}

fn type_help(expected: &str, found: &str) -> String {
    match (expected, found) {
        ("duration", "string") => {
            String::from("durations are written without quotes: `30s`, `5m`, `1h30m`")
        }
        ("duration", "int") => String::from("give a unit: `30s`, not `30`"),
        ("size", "int") => String::from("give a unit: `10MiB`, not a number of bytes"),
        ("int", "string") | ("bool", "string") => format!("write the {expected} without quotes"),
        (e, "string") if e.starts_with("list") => {
            String::from("lists are written `[\"a\", \"b\"]`")
        }
        _ => format!("expected {}", article(expected)),
    }
}

/// A comparison between values that cannot be compared that way.
pub fn bad_comparison(at: Span, op: &str, left: &str, right: &str) -> Diagnostic {
    let help = match op {
        "<" | "<=" | ">" | ">=" => {
            "ordering compares numbers, durations and sizes of the same kind"
        }
        "contains" | "not contains" => {
            "`contains` looks for text in a string, an element in a list, or a key in a map"
        }
        "matches" | "not matches" => "`matches` tests a string against a regular expression string",
        "in" | "not in" => "`in` tests membership in a list: `status in [200, 204]`",
        _ if left == "int" && right == "string" => "write the number without quotes",
        _ if left == "duration" && right == "string" => {
            "write the duration without quotes: `500ms`"
        }
        _ if left == "bool" && right == "string" => "write `true` or `false` without quotes",
        _ => "both sides must have compatible types",
    };
    Diagnostic::new(
        Code::TypeMismatch,
        at,
        format!(
            "cannot compare {} with {} using `{op}`",
            article(left),
            article(right)
        ),
        "incompatible comparison",
    )
    .with_help(help)
}

/// A list or map interpolated into a string.
pub fn cannot_interpolate(at: Span, ty: &str) -> Diagnostic {
    Diagnostic::new(
        Code::TypeMismatch,
        at,
        format!("cannot interpolate {} into a string", article(ty)),
        "not a single value",
    )
    .with_help("interpolate one element (`list[0]`) or one field (`map.key`)")
}

/// `.field` on a value without fields.
pub fn no_fields(at: Span, written: &str, ty: &str) -> Diagnostic {
    Diagnostic::new(
        Code::TypeMismatch,
        at,
        format!("`{written}` is {}; it has no fields", article(ty)),
        "no such field",
    )
    .with_help("only maps and JSON values have fields")
}

/// `[index]` on a value that cannot be indexed that way.
pub fn bad_index(at: Span, written: &str, ty: &str, index: &str) -> Diagnostic {
    Diagnostic::new(
        Code::TypeMismatch,
        at,
        format!(
            "`{written}` is {} and cannot be indexed by {}",
            article(ty),
            article(index)
        ),
        "bad index",
    )
    .with_help("lists take an int index, maps a string key")
}

/// A secret flowing where it would be shown: points at the secret inside the value.
pub fn secret_leak(at: Span, origin: Span, what: &str) -> Diagnostic {
    let inside = origin.start >= at.start && origin.end <= at.end;
    let mut d = Diagnostic::new(
        Code::SecretLeak,
        if inside { origin } else { at },
        format!("a secret flows into {what}, which is not sensitive"),
        if inside {
            "this is secret"
        } else {
            "this value is secret"
        },
    );
    if !inside {
        d = d.with_related(origin, "the secret comes from here");
    }
    d.with_help("secrets may only flow into sensitive attributes (URLs of databases and webhooks, auth headers, env); anywhere else they would be printed")
}

/// A URL literal that does not parse.
pub fn invalid_url(at: Span, text: &str, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidUrl,
        at,
        format!("`{text}` is not a valid URL: {why}"),
        "invalid URL",
    )
    .with_help("write a full URL with its scheme, e.g. `http://127.0.0.1:8080/healthz`")
}

/// A regular expression that does not compile.
pub fn invalid_regex(at: Span, why: &str) -> Diagnostic {
    let first = why.lines().last().unwrap_or(why).trim();
    Diagnostic::new(Code::InvalidRegex, at, format!("invalid regular expression: {first}"), "this pattern")
        .with_help("patterns use Rust regex syntax (like RE2); escape a literal backslash as `\\\\` in the string")
}

/// A name that is not defined.
pub fn undefined_name(at: Span, name: &str, suggestion: Option<String>) -> Diagnostic {
    Diagnostic::new(
        Code::UndefinedName,
        at,
        format!("`{name}` is not defined"),
        "not defined",
    )
    .with_help(suggestion.unwrap_or_else(|| {
        String::from("declare it with `param`, `secret` or `let`, or name a step with `as`")
    }))
}

/// `failure.*` outside `on failure`/`always`.
pub fn failure_outside_handler(at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::FailureOutsideHandler,
        at,
        "`failure` exists only inside `on failure` and `always` handlers",
        "no failure here",
    )
    .with_help("move this into an `on failure { ... }` block")
}

/// A step (or `failure`) used as a value without a field.
pub fn step_used_as_value(at: Span, name: &str, fields: &[&str]) -> Diagnostic {
    Diagnostic::new(
        Code::StepUsedAsValue,
        at,
        format!("`{name}` is not a value: use one of its fields"),
        "needs a field",
    )
    .with_help(format!("fields: {}", listing(fields)))
}

/// A field a step does not output.
pub fn unknown_output(at: Span, field: &str, step: &str, outputs: &[&str]) -> Diagnostic {
    let help = match did_you_mean(field, outputs.iter().copied()) {
        Some(h) => format!("{h} `{step}` has: {}", listing(outputs)),
        None => format!("`{step}` has: {}", listing(outputs)),
    };
    Diagnostic::new(
        Code::UnknownOutput,
        at,
        format!("`{step}` has no output `{field}`"),
        "unknown output",
    )
    .with_help(help)
}

/// A handler reading a step of its block, which may not have run.
pub fn handler_output_reference(at: Span, name: &str, site: Span) -> Diagnostic {
    Diagnostic::new(
        Code::HandlerOutputReference,
        at,
        format!("`{name}` may not have run when this handler runs"),
        "may be missing",
    )
    .with_related(site, "the step")
    .with_help("a handler runs after a failure anywhere in its block; if this step did not run, the value is missing and the handler step fails")
}

/// A reference to a step in another branch of the same `parallel`.
pub fn parallel_sibling_output(at: Span, name: &str, site: Span, group: Span) -> Diagnostic {
    Diagnostic::new(
        Code::ParallelSiblingOutput,
        at,
        format!("`{name}` runs in parallel with this step, so its outputs are not there yet"),
        "parallel sibling",
    )
    .with_related(site, "runs at the same time")
    .with_related(group, "in this `parallel` group")
    .with_help("use the output after the `parallel` group, or run the two steps in sequence")
}

/// A reference to a step inside a `for` loop from outside it.
pub fn loop_output_outside(at: Span, name: &str, site: Span) -> Diagnostic {
    Diagnostic::new(
        Code::LoopOutputOutside,
        at,
        format!("`{name}` runs once per iteration of a `for` loop; outside the loop it has no single value"),
        "outside its loop",
    )
    .with_related(site, "inside the loop")
    .with_help("use the output inside the loop body")
}

/// A reference to a step that has not run at this point.
pub fn output_before_run(at: Span, name: &str, site: Span, why: &str) -> Diagnostic {
    let help = match why {
        "is this step itself" => "a step cannot read its own outputs; check them with `expect`",
        "runs only in a handler" => {
            "steps in a handler run only on failure; use their outputs inside the handler"
        }
        "runs after file-level declarations are evaluated" => {
            "file-level `let`s are fixed before any step runs; move the `let` into the stage, after the step"
        }
        _ => "move this after the step, or the step before this",
    };
    Diagnostic::new(
        Code::OutputBeforeRun,
        at,
        format!("`{name}` has not run at this point: it {why}"),
        "used before it runs",
    )
    .with_related(site, "the step")
    .with_help(help)
}

/// Two steps with one name.
pub fn duplicate_step_name(at: Span, name: &str, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateStepName,
        at,
        format!("two steps are named `{name}`"),
        "second step with this name",
    )
    .with_related(first, "first one")
    .with_help("step names must be unique in a runbook; rename one")
}

/// A second handler of the same kind in one block.
pub fn duplicate_handler(at: Span, what: &str, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateModifier,
        at,
        format!(
            "a block has one {}",
            what.trim_start_matches("an ").trim_start_matches("a ")
        ),
        "second handler",
    )
    .with_related(first, "first one")
    .with_help("merge the two handlers")
}

/// A modifier given twice.
pub fn duplicate_modifier(at: Span, name: &str, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateModifier,
        at,
        format!("`{name}` is given twice"),
        "second one",
    )
    .with_related(first, "first one")
    .with_help("keep one")
}

/// A block with no steps.
pub fn empty_block(at: Span, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::EmptyBlock,
        at,
        format!("{what} with no steps"),
        "empty",
    )
    .with_help("add steps or remove it")
}

/// A value the step refuses although its type allows it (`probe http` with
/// `method = POST`): why, and the step to use instead.
pub fn value_refused(
    at: Span,
    what: &str,
    value: &str,
    refusal: &crate::schema::Refusal,
) -> Diagnostic {
    Diagnostic::new(
        Code::ValueRefused,
        at,
        format!("{what} cannot be `{value}`: {}", refusal.why),
        "refused here",
    )
    .with_help(refusal.instead)
}

/// A number or duration outside its range.
pub fn value_out_of_range(at: Span, what: &str, range: &str) -> Diagnostic {
    Diagnostic::new(
        Code::ValueOutOfRange,
        at,
        format!("{what} must be {range}"),
        "out of range",
    )
    .with_help(format!("use a value {range}"))
}

/// A step kind the stdlib does not have.
pub fn unknown_step_kind(at: Span, kind: &str, kinds: &[&str]) -> Diagnostic {
    Diagnostic::new(
        Code::UnknownStepKind,
        at,
        format!("unknown step kind `{kind}`"),
        "not a step kind",
    )
    .with_help(match did_you_mean(kind, kinds.iter().copied()) {
        Some(h) => format!("{h} Step kinds: {}", listing(kinds)),
        None => format!("step kinds: {}", listing(kinds)),
    })
}

/// A variant the kind does not have.
pub fn unknown_variant(at: Span, word: &str, kind: &str, variants: &[&str]) -> Diagnostic {
    Diagnostic::new(
        Code::UnknownVariant,
        at,
        format!("`{kind}` has no variant `{word}`"),
        "unknown variant",
    )
    .with_help(match did_you_mean(word, variants.iter().copied()) {
        Some(h) => format!("{h} `{kind}` variants: {}", listing(variants)),
        None => format!("`{kind}` variants: {}", listing(variants)),
    })
}

/// A kind used without its variant.
pub fn missing_variant(at: Span, kind: &str, variants: &[&str]) -> Diagnostic {
    Diagnostic::new(
        Code::MissingVariant,
        at,
        format!("`{kind}` needs a variant"),
        "which one?",
    )
    .with_help(format!(
        "write `{kind} VARIANT ...` with one of {}",
        listing(variants)
    ))
}

/// A step without its required target.
pub fn missing_target(at: Span, label: &str, target: &str, doc: &str) -> Diagnostic {
    Diagnostic::new(
        Code::MissingTarget,
        at,
        format!("`{label}` needs its {target}"),
        format!("{target} missing"),
    )
    .with_help(format!("write it after `{label}`: {doc}"))
}

/// An `expect` subject that needs an argument and has none.
pub fn missing_subject_arg(at: Span, name: &str, doc: &str) -> Diagnostic {
    Diagnostic::new(
        Code::MissingTarget,
        at,
        format!("`expect {name}` needs an argument: {doc}"),
        "argument missing",
    )
    .with_help(format!("e.g. `expect {name} \"...\" == ...`"))
}

/// `wait until` without the step to poll.
pub fn missing_nested_step(at: Span, label: &str) -> Diagnostic {
    Diagnostic::new(
        Code::MissingTarget,
        at,
        format!("`{label}` needs one read-only step in its body to poll"),
        "nothing to poll",
    )
    .with_help("e.g. `wait until { probe http \"...\" { expect status == 200 } }` with a `timeout`")
}

/// An argument a step does not take.
pub fn unexpected_argument(at: Span, label: &str) -> Diagnostic {
    Diagnostic::new(
        Code::UnexpectedArgument,
        at,
        format!("`{label}` does not take this argument"),
        "unexpected",
    )
    .with_help("set options as attributes in the step's `{ ... }` body; `as NAME` names the step")
}

/// An argument given to an `expect` subject that takes none.
pub fn unexpected_subject_arg(at: Span, name: &str) -> Diagnostic {
    Diagnostic::new(
        Code::UnexpectedArgument,
        at,
        format!("`expect {name}` takes no argument"),
        "unexpected",
    )
    .with_help(format!("write `expect {name} OP VALUE`"))
}

/// Required attributes (or parameters of a called runbook) not given.
pub fn missing_attributes(at: Span, label: &str, missing: &[String], params: bool) -> Diagnostic {
    let names: Vec<&str> = missing.iter().map(String::as_str).collect();
    let (code, noun) = if params {
        (Code::MissingCallParameter, "parameter")
    } else {
        (Code::MissingAttribute, "attribute")
    };
    let plural = if names.len() == 1 { "" } else { "s" };
    Diagnostic::new(
        code,
        at,
        format!(
            "`{label}` is missing required {noun}{plural} {}",
            one_of(&names)
        ),
        format!("needs {}", one_of(&names)),
    )
    .with_help(format!(
        "add `{} = ...` to its body",
        names.first().copied().unwrap_or("")
    ))
}

/// Required metadata missing.
pub fn missing_metadata(at: Span, missing: &[String]) -> Diagnostic {
    let names: Vec<&str> = missing.iter().map(String::as_str).collect();
    Diagnostic::new(
        Code::MissingAttribute,
        at,
        format!("the runbook block is missing {}", one_of(&names)),
        "incomplete metadata",
    )
    .with_help("every runbook names a `title` and an `owner`: the catalog and on-call rely on them")
}

/// `wait until` without `timeout`.
pub fn unbounded_wait(at: Span, label: &str) -> Diagnostic {
    Diagnostic::new(
        Code::UnboundedWait,
        at,
        format!("`{label}` has no `timeout`: it could wait forever"),
        "unbounded",
    )
    .with_help("add `timeout 5m` (or whatever bound fits) to its body")
}

/// A modifier written like an attribute.
pub fn modifier_as_attribute(at: Span, name: &str) -> Diagnostic {
    let example = match name {
        "timeout" => "timeout 5m",
        "retry" => "retry 3 every 5s",
        _ => "when deploy_db",
    };
    Diagnostic::new(
        Code::ModifierAsAttribute,
        at,
        format!("`{name}` is a modifier, not an attribute"),
        "written like an attribute",
    )
    .with_help(format!("write it without `=`: `{example}`"))
}

/// A called runbook that cannot be used.
pub fn invalid_callee(at: Span, path: &str, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidCallee,
        at,
        format!("cannot call `{path}`: {why}"),
        "this runbook",
    )
    .with_help("`call` runs another runbook; fix that file first")
}

/// An `expect` subject the step does not have.
pub fn unknown_subject(at: Span, name: &str, label: &str, subjects: &[&str]) -> Diagnostic {
    Diagnostic::new(
        Code::UnknownSubject,
        at,
        format!("`{label}` cannot check `{name}`"),
        "unknown subject",
    )
    .with_help(match did_you_mean(name, subjects.iter().copied()) {
        Some(h) => format!("{h} `{label}` can check: {}", listing(subjects)),
        None => format!("`{label}` can check: {}", listing(subjects)),
    })
}

/// A JSON path that does not parse.
pub fn invalid_json_path(at: Span, path: &str, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidJsonPath,
        at,
        format!("invalid JSON path `{path}`: {why}"),
        "this path",
    )
    .with_help("JSON paths look like `.status`, `.checks[0].name` or `[\"odd key\"]`")
}

/// `wait until` polling a step that changes things.
pub fn nested_not_read_only(at: Span, label: &str, kind: &str, effect: &str) -> Diagnostic {
    Diagnostic::new(
        Code::MisplacedStatement,
        at,
        format!("`{label}` polls read-only steps, but `{kind}` is {effect}"),
        "not read-only",
    )
    .with_help("poll a `probe`, or an `exec` with `readonly = true`")
}

/// A runbook id with characters that do not fit file names and URLs.
pub fn invalid_runbook_id(at: Span, id: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidRunbookId,
        at,
        format!("invalid runbook id `{id}`"),
        "invalid id",
    )
    .with_help("ids are lower-case letters, digits, `-`, `_` and `.`, start with a letter or digit, at most 64 characters: e.g. `summit-ga-smoke`")
}

/// A lock name that is not an id.
pub fn invalid_lock_name(at: Span, name: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidRunbookId,
        at,
        format!("invalid lock name `{name}`"),
        "invalid name",
    )
    .with_help("lock names are written like runbook ids: lower-case letters, digits, `-`, `_` and `.`, at most 64 characters: e.g. `postgres-main`")
}

/// A date that is not `YYYY-MM-DD`.
pub fn invalid_date(at: Span, text: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidDate,
        at,
        format!("`{text}` is not a valid date"),
        "not a date",
    )
    .with_help("write dates as `YYYY-MM-DD`, e.g. `2026-11-01`")
}

/// A maintenance window that does not parse.
pub fn invalid_window(at: Span, text: &str, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidWindow,
        at,
        format!("invalid window `{text}`: {why}"),
        "invalid window",
    )
    .with_help("windows look like `Sat 02:00-06:00 UTC` or `Mon-Fri 22:00-23:30 Europe/Berlin`")
}

/// `validated` after today.
pub fn validated_in_future(at: Span, date: &str, today: &str) -> Diagnostic {
    Diagnostic::new(
        Code::ValidatedInFuture,
        at,
        format!("`validated` is {date}, which is after today ({today})"),
        "in the future",
    )
    .with_help("set it to the date the runbook was last run and checked")
}

/// A validation older than `max_age`.
pub fn validation_expired(
    at: Span,
    max_age: Option<Span>,
    date: &str,
    age: &str,
    due: &str,
    overdue: i64,
) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::ValidationExpired,
        at,
        format!(
            "validation expired: last validated {date}, `max_age` is {age}, so it was due {due} ({overdue} days ago)"
        ),
        "validated too long ago",
    );
    if let Some(span) = max_age {
        d = d.with_related(span, "max_age");
    }
    d.with_help(
        "re-run the runbook against a clean environment, then update `validated` to that date",
    )
}

/// `max_age` without `validated`.
pub fn never_validated(at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::ValidationExpired,
        at,
        "`max_age` is set but the runbook has no `validated` date",
        "never validated",
    )
    .with_help("validate the runbook and record the date: `validated = \"YYYY-MM-DD\"`")
}
