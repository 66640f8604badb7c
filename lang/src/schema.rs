//! Step schemas: the data the checker validates steps against.
//!
//! The grammar knows only the shape of a step; what `probe http` accepts, produces and
//! does comes from a [`StepSchema`] table exported by the `stdlib` crate. Everything
//! here is `const`-constructible so the stdlib's tables are plain static data.

use std::time::Duration;

/// A type as written in a schema table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaType {
    /// Text.
    String,
    /// A 64-bit integer.
    Int,
    /// A float (integers are accepted).
    Float,
    /// `true`/`false`.
    Bool,
    /// A duration literal.
    Duration,
    /// A size literal.
    Size,
    /// A URL (a string that must parse as one).
    Url,
    /// A filesystem path.
    Path,
    /// Anything (JSON-like data).
    Any,
    /// A list of the element type.
    ListOf(&'static SchemaType),
    /// A map from strings to the value type.
    MapOf(&'static SchemaType),
    /// One of a fixed set of words; written bare (`healthy`) or quoted.
    Enum(&'static [&'static str]),
}

/// Whether a step changes anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Only reads: runs live in `--preflight`.
    ReadOnly,
    /// Changes something: replaced by a recorder in a dry-run.
    Mutating,
    /// Waits for a person (`confirm`, `manual`).
    Interactive,
}

impl Effect {
    /// `read-only`, `mutating` or `interactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::ReadOnly => "read-only",
            Effect::Mutating => "mutating",
            Effect::Interactive => "interactive",
        }
    }
}

/// What a step's body may hold besides attributes, expectations and modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nested {
    /// No nested steps.
    None,
    /// Exactly one read-only step (the probe of `wait until`).
    OneReadOnly,
}

/// Whether an output is secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrecy {
    /// Never secret (a status code, a latency).
    Never,
    /// Secret when any sensitive input of the step was secret (a body, stdout).
    FromInputs,
}

/// The positional target of a step (`probe http URL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Name used in messages and docs (`url`, `argv`).
    pub name: &'static str,
    /// Its type.
    pub ty: SchemaType,
    /// Whether a secret may flow into it (it is redacted when shown).
    pub sensitive: bool,
    /// Whether it must be given.
    pub required: bool,
    /// One line of documentation.
    pub doc: &'static str,
}

/// One attribute of a step body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: SchemaType,
    /// Whether it must be given.
    pub required: bool,
    /// The default, written in `.rb.ops` syntax (parsed by the planner).
    pub default: Option<&'static str>,
    /// Whether a secret may flow into it.
    pub sensitive: bool,
    /// One line of documentation.
    pub doc: &'static str,
    /// For an integer: the smallest and largest value accepted.
    pub range: Option<(i64, i64)>,
    /// For a string: the most characters accepted.
    pub max_len: Option<usize>,
    /// Values of its type this step refuses, and why (a probe's `method = POST`).
    pub refused: Option<Refusal>,
}

/// Values an attribute's type allows that a step refuses, with the step to use instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The refused values (enum words or plain strings).
    pub values: &'static [&'static str],
    /// Why, in a few words (`a probe only reads`).
    pub why: &'static str,
    /// What to write instead.
    pub instead: &'static str,
}

impl Attribute {
    /// An optional, non-sensitive attribute without a default.
    pub const fn new(name: &'static str, ty: SchemaType, doc: &'static str) -> Attribute {
        Attribute {
            name,
            ty,
            required: false,
            default: None,
            sensitive: false,
            doc,
            range: None,
            max_len: None,
            refused: None,
        }
    }

    /// Refuses some values of its type, saying why and what to use instead.
    pub const fn refuse(mut self, refusal: Refusal) -> Attribute {
        self.refused = Some(refusal);
        self
    }

    /// The refusal that covers `value`, if any.
    pub fn refusal(&self, value: &str) -> Option<&Refusal> {
        self.refused
            .as_ref()
            .filter(|r| r.values.iter().any(|v| v.eq_ignore_ascii_case(value)))
    }

    /// Accepts only integers from `min` to `max`.
    pub const fn range(mut self, min: i64, max: i64) -> Attribute {
        self.range = Some((min, max));
        self
    }

    /// Accepts only strings of at most `n` characters.
    pub const fn max_len(mut self, n: usize) -> Attribute {
        self.max_len = Some(n);
        self
    }

    /// Why `value` is outside this attribute's limits (the range in words), if it is.
    pub fn out_of_range(&self, int: Option<i64>, text: Option<&str>) -> Option<String> {
        if let (Some((min, max)), Some(n)) = (self.range, int)
            && !(min..=max).contains(&n)
        {
            return Some(if max == i64::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            });
        }
        if let (Some(limit), Some(text)) = (self.max_len, text)
            && text.chars().count() > limit
        {
            return Some(format!("at most {limit} characters long"));
        }
        None
    }

    /// Marks it required.
    pub const fn required(mut self) -> Attribute {
        self.required = true;
        self
    }

    /// Sets its default (in `.rb.ops` syntax).
    pub const fn default(mut self, value: &'static str) -> Attribute {
        self.default = Some(value);
        self
    }

    /// Marks it sensitive: secrets may flow into it.
    pub const fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }
}

/// One typed output of a step (`NAME.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: SchemaType,
    /// Whether it carries secrecy from the inputs.
    pub secrecy: Secrecy,
    /// One line of documentation.
    pub doc: &'static str,
}

impl Output {
    /// An output that is never secret.
    pub const fn new(name: &'static str, ty: SchemaType, doc: &'static str) -> Output {
        Output {
            name,
            ty,
            secrecy: Secrecy::Never,
            doc,
        }
    }

    /// An output that is secret when a sensitive input was.
    pub const fn tainted(name: &'static str, ty: SchemaType, doc: &'static str) -> Output {
        Output {
            name,
            ty,
            secrecy: Secrecy::FromInputs,
            doc,
        }
    }
}

/// What an `expect` can check (`expect header "content-type" contains "html"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Its name.
    pub name: &'static str,
    /// The type of its argument, when it takes one (`header NAME`).
    pub arg: Option<SchemaType>,
    /// The type of the value compared.
    pub ty: SchemaType,
    /// One line of documentation.
    pub doc: &'static str,
}

impl Subject {
    /// A subject without an argument.
    pub const fn new(name: &'static str, ty: SchemaType, doc: &'static str) -> Subject {
        Subject {
            name,
            arg: None,
            ty,
            doc,
        }
    }

    /// A subject with an argument.
    pub const fn with_arg(
        name: &'static str,
        arg: SchemaType,
        ty: SchemaType,
        doc: &'static str,
    ) -> Subject {
        Subject {
            name,
            arg: Some(arg),
            ty,
            doc,
        }
    }
}

/// One variant of a step kind (`probe http`), or the kind itself when it has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    /// The variant word; `None` for the default form (`wait 45s`).
    pub name: Option<&'static str>,
    /// One line of documentation.
    pub doc: &'static str,
    /// The positional target.
    pub target: Option<Target>,
    /// Body attributes.
    pub attributes: &'static [Attribute],
    /// Typed outputs.
    pub outputs: &'static [Output],
    /// What `expect` may check.
    pub subjects: &'static [Subject],
    /// What running it does.
    pub effect: Effect,
    /// `readonly = true` turns a mutating step read-only (`exec`).
    pub readonly_attr: bool,
    /// Running it again after it ran, or after it was cut off half-way, leaves the same
    /// state (`compose up`, `backup prune`): `ops resume` re-runs it without asking.
    pub idempotent: bool,
    /// Time limit when the runbook sets none; `None` only for steps bounded otherwise.
    pub default_timeout: Option<Duration>,
    /// Without an explicit `timeout` the step could wait forever (`wait until`).
    pub requires_timeout: bool,
    /// Nested steps allowed in the body.
    pub nested: Nested,
    /// The attributes are the parameters of the runbook named by the target (`call`).
    pub params_from_target: bool,
}

impl Variant {
    /// A read-only variant with no target, attributes or outputs; fill in with `..`.
    pub const BASE: Variant = Variant {
        name: None,
        doc: "",
        target: None,
        attributes: &[],
        outputs: &[],
        subjects: &[],
        effect: Effect::ReadOnly,
        readonly_attr: false,
        idempotent: false,
        default_timeout: None,
        requires_timeout: false,
        nested: Nested::None,
        params_from_target: false,
    };

    /// `kind variant` or `kind` for messages.
    pub fn display(&self, kind: &str) -> String {
        match self.name {
            Some(v) => format!("{kind} {v}"),
            None => kind.to_string(),
        }
    }
}

/// A step kind and its variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepSchema {
    /// The kind word (`probe`).
    pub kind: &'static str,
    /// One line of documentation.
    pub doc: &'static str,
    /// Its variants (statics: a variant's address identifies it); one with `name: None`
    /// is the form without a variant word.
    pub variants: &'static [&'static Variant],
}

impl StepSchema {
    /// The variant named `name`.
    pub fn variant(&self, name: &str) -> Option<&'static Variant> {
        self.variants.iter().copied().find(|v| v.name == Some(name))
    }

    /// The form without a variant word, if the kind has one.
    pub fn default_variant(&self) -> Option<&'static Variant> {
        self.variants.iter().copied().find(|v| v.name.is_none())
    }

    /// The names of the named variants.
    pub fn variant_names(&self) -> Vec<&'static str> {
        self.variants.iter().filter_map(|v| v.name).collect()
    }
}

/// `on_failure = abort|continue`, accepted by every step.
pub const ON_FAILURE: Attribute = Attribute::new(
    "on_failure",
    SchemaType::Enum(&["abort", "continue"]),
    "what a failure of this step does: `abort` the stage (default) or `continue`",
)
.default("abort");

/// `description = "..."`, accepted by every step.
pub const DESCRIPTION: Attribute = Attribute::new(
    "description",
    SchemaType::String,
    "a sentence shown in plans and reports",
);

/// Attributes every step accepts.
pub const UNIVERSAL_ATTRIBUTES: &[Attribute] = &[ON_FAILURE, DESCRIPTION];

pub use crate::syntax::MODIFIERS;

/// The set of step kinds a checker validates against.
#[derive(Clone, Copy, Debug)]
pub struct Schemas {
    /// Every step kind.
    pub steps: &'static [&'static StepSchema],
}

impl Schemas {
    /// The schema of `kind`.
    pub fn get(&self, kind: &str) -> Option<&'static StepSchema> {
        self.steps.iter().copied().find(|s| s.kind == kind)
    }

    /// All kind names.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + Clone {
        self.steps.iter().map(|s| s.kind)
    }
}
