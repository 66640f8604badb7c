//! The one table of diagnostic codes. A code is never reused: the enum's explicit
//! discriminants make a duplicate number a compile error, and `docs/errors.md` must
//! document every entry (checked by a test). `OPS1xxx` parse, `OPS2xxx` check,
//! `OPS3xxx` plan/run, `OPS4xxx` stdlib.

use super::Severity;

macro_rules! codes {
    ($( $variant:ident = $num:literal, $slug:literal, $sev:ident; )*) => {
        /// A stable diagnostic code (`OPS2004`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Code {
            $(
                #[doc = $slug]
                $variant = $num,
            )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The short kebab-case name (`unknown-attribute`).
            pub fn slug(self) -> &'static str {
                match self { $(Code::$variant => $slug,)* }
            }

            /// The severity a diagnostic with this code has.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }
        }
    };
}

codes! {
    // ---- parse: OPS1xxx
    InvalidUtf8 = 1001, "invalid-utf8", Error;
    BinaryFile = 1002, "binary-file", Error;
    FileTooLarge = 1003, "file-too-large", Error;
    EmptyFile = 1004, "empty-file", Error;
    SyntaxError = 1005, "syntax-error", Error;
    UnterminatedString = 1006, "unterminated-string", Error;
    UnterminatedInterpolation = 1007, "unterminated-interpolation", Error;
    UnclosedDelimiter = 1008, "unclosed-delimiter", Error;
    UnexpectedDelimiter = 1009, "unexpected-delimiter", Error;
    NestingTooDeep = 1010, "nesting-too-deep", Error;
    InvalidEscape = 1011, "invalid-escape", Error;
    InvalidNumber = 1012, "invalid-number", Error;
    InvalidUnit = 1013, "invalid-unit", Error;
    ExpressionTooComplex = 1014, "expression-too-complex", Error;
    ReservedWord = 1015, "reserved-word", Error;
    ControlCharacter = 1016, "control-character", Error;
    InternalError = 1099, "internal-error", Error;

    // ---- check: OPS2xxx
    UnknownStepKind = 2001, "unknown-step-kind", Error;
    UnknownVariant = 2002, "unknown-variant", Error;
    MissingVariant = 2003, "missing-variant", Error;
    UnknownAttribute = 2004, "unknown-attribute", Error;
    MissingAttribute = 2005, "missing-attribute", Error;
    DuplicateAttribute = 2006, "duplicate-attribute", Error;
    TypeMismatch = 2007, "type-mismatch", Error;
    UndefinedName = 2008, "undefined-name", Error;
    DuplicateStepName = 2009, "duplicate-step-name", Error;
    OutputBeforeRun = 2010, "output-before-run", Error;
    ParallelSiblingOutput = 2011, "parallel-sibling-output", Error;
    FailureOutsideHandler = 2012, "failure-outside-handler", Error;
    SecretLeak = 2013, "secret-leak", Error;
    UnboundedWait = 2014, "unbounded-wait", Error;
    MissingRunbookBlock = 2015, "missing-runbook-block", Error;
    DuplicateRunbookBlock = 2016, "duplicate-runbook-block", Error;
    InvalidDate = 2017, "invalid-date", Error;
    UnknownEnumValue = 2018, "unknown-enum-value", Error;
    InvalidWindow = 2019, "invalid-window", Error;
    InvalidRunbookId = 2020, "invalid-runbook-id", Error;
    ValidationExpired = 2021, "validation-expired", Warning;
    UnknownOutput = 2022, "unknown-output", Error;
    MisplacedStatement = 2023, "misplaced-statement", Error;
    UnexpectedArgument = 2024, "unexpected-argument", Error;
    MissingTarget = 2025, "missing-target", Error;
    UnknownSubject = 2026, "unknown-subject", Error;
    DuplicateDefinition = 2027, "duplicate-definition", Error;
    FileNotFound = 2028, "file-not-found", Error;
    LinkCycle = 2029, "link-cycle", Error;
    InvalidLibrary = 2030, "invalid-library", Error;
    UnknownCallParameter = 2031, "unknown-call-parameter", Error;
    MissingCallParameter = 2032, "missing-call-parameter", Error;
    InvalidCallee = 2033, "invalid-callee", Error;
    UnknownAtPlanTime = 2034, "unknown-at-plan-time", Error;
    LoopOutputOutside = 2035, "loop-output-outside", Error;
    InvalidRegex = 2036, "invalid-regex", Error;
    InvalidUrl = 2037, "invalid-url", Error;
    ModifierAsAttribute = 2038, "modifier-as-attribute", Error;
    DuplicateModifier = 2039, "duplicate-modifier", Error;
    HandlerOutputReference = 2040, "handler-output-reference", Warning;
    UnknownType = 2041, "unknown-type", Error;
    DefaultNotAllowed = 2042, "default-not-allowed", Error;
    ValueOutOfRange = 2043, "value-out-of-range", Error;
    ValidatedInFuture = 2044, "validated-in-future", Warning;
    PlainStringRequired = 2045, "plain-string-required", Error;
    StepUsedAsValue = 2046, "step-used-as-value", Error;
    EmptyBlock = 2047, "empty-block", Warning;
    UnusedDeclaration = 2048, "unused-declaration", Warning;
    InvalidJsonPath = 2049, "invalid-json-path", Error;
    LinkNotRunbook = 2050, "link-not-runbook", Error;
    LinkedFileInvalid = 2051, "linked-file-invalid", Error;
    ValueRefused = 2052, "value-refused", Error;

    // ---- plan and run: OPS3xxx
    UnknownParameter = 3001, "unknown-parameter", Error;
    InvalidParameterValue = 3002, "invalid-parameter-value", Error;
    MissingParameter = 3003, "missing-parameter", Error;
    ParameterNotAllowed = 3004, "parameter-not-allowed", Error;
    UndeclaredVariable = 3005, "undeclared-variable", Warning;
    UnknownStartStep = 3006, "unknown-start-step", Error;
    PlanEvaluation = 3007, "plan-evaluation-failed", Error;
    SecretMissing = 3008, "secret-missing", Error;
    PreflightCheck = 3009, "preflight-check-failed", Error;
    StepNotImplemented = 3010, "step-not-implemented", Error;
    BudgetExceeded = 3011, "budget-exceeded", Warning;
    WindowExceeded = 3012, "window-exceeded", Warning;
    SkippedOutput = 3013, "skipped-output", Error;
    SavedPlanInvalid = 3020, "saved-plan-invalid", Error;
    SavedPlanRunbookChanged = 3021, "saved-plan-runbook-changed", Error;
    SavedPlanParametersChanged = 3022, "saved-plan-parameters-changed", Error;
    SavedPlanVersionChanged = 3023, "saved-plan-version-changed", Error;
    SavedPlanDiffers = 3024, "saved-plan-differs", Error;
    OutsideWindow = 3025, "outside-window", Error;
    RunLocked = 3026, "run-locked", Error;
    ResumeRefused = 3027, "resume-refused", Error;
    JournalTampered = 3028, "journal-tampered", Error;
    StepFailed = 3030, "step-failed", Error;
    ExpectationFailed = 3031, "expectation-failed", Error;
    StepTimedOut = 3032, "step-timed-out", Error;
    NoOperator = 3033, "no-operator", Error;
    OutputUnavailable = 3034, "output-unavailable", Error;
    Interrupted = 3035, "interrupted", Error;
    ComposeFileInvalid = 3036, "compose-file-invalid", Error;
    EngineUnreachable = 3037, "engine-unreachable", Error;
}

impl Code {
    /// Looks a code up by `OPS2004`, `ops2004`, `2004` or its slug.
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        let digits = text
            .strip_prefix("OPS")
            .or_else(|| text.strip_prefix("ops"))
            .unwrap_or(text);
        if let Ok(number) = digits.parse::<u16>() {
            return Code::ALL.iter().copied().find(|c| *c as u16 == number);
        }
        Code::ALL.iter().copied().find(|c| c.slug() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OPS{:04}", *self as u16)
    }
}
