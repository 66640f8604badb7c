//! `parse`: bytes → text → (scan) → pest parse tree → (lower) → typed AST.
//!
//! Every failure becomes a [`Diagnostic`] with a code and a position; nothing here
//! panics on any input (see the bad-input tests in `tests/bad_input.rs`).

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};

use crate::ast::{Comment, Expr, File, Span};
use crate::diag::{self, Diagnostic};
use crate::lower;
use crate::scan;

pub use crate::syntax::{OpsParser, Rule};
use crate::syntax::{STATEMENT_KEYWORDS, is_statement_rule};

/// Files larger than this are refused: a runbook is written by people.
pub const MAX_FILE_SIZE: usize = 4 * 1024 * 1024;

/// The result of parsing one file.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The AST, unless the file could not be parsed at all.
    pub ast: Option<File>,
    /// Every comment, for the formatter.
    pub comments: Vec<Comment>,
    /// Parse diagnostics (all errors).
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when there are no errors.
    pub fn is_ok(&self) -> bool {
        self.ast.is_some() && !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks that `bytes` can be a runbook (size, UTF-8, not binary) and returns the text.
pub fn decode(bytes: &[u8]) -> Result<&str, Diagnostic> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(diag::file_too_large(bytes.len(), MAX_FILE_SIZE));
    }
    // A UTF-8 byte-order mark (written by some Windows editors) carries no meaning: it is
    // dropped, so positions count from the text after it (and `ops fmt` removes it).
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| diag::invalid_utf8(e.valid_up_to(), e.error_len().unwrap_or(1)))?;
    if let Some(nul) = text.bytes().position(|b| b == 0) {
        return Err(diag::binary_file(nul));
    }
    Ok(text)
}

/// The text pest parses: `text` with every comment's bytes and every tab in code replaced
/// by spaces (a comment ends before its line break), or `None` when it has neither.
fn blanked(text: &str, scanned: &scan::Scan) -> Option<String> {
    if scanned.comments.is_empty() && scanned.tabs.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    for c in &scanned.comments {
        bytes[c.span.start..c.span.end].fill(b' ');
    }
    for &tab in &scanned.tabs {
        bytes[tab] = b' ';
    }
    // Whole UTF-8 sequences were replaced by ASCII, so the text is still UTF-8.
    String::from_utf8(bytes).ok()
}

/// Parses a whole file.
pub fn parse(text: &str) -> Parsed {
    if text.len() > MAX_FILE_SIZE {
        return failed(diag::file_too_large(text.len(), MAX_FILE_SIZE));
    }
    if let Some(nul) = text.bytes().position(|b| b == 0) {
        return failed(diag::binary_file(nul));
    }
    if text.trim().is_empty() {
        return failed(diag::empty_file());
    }
    let scanned = scan::scan(text);
    if let Some(error) = scanned.error {
        return Parsed {
            ast: None,
            comments: scanned.comments,
            diagnostics: vec![error],
        };
    }
    // The scanner found every comment and tab in code (it knows strings); the parser gets
    // them as spaces, byte for byte, so that no token position moves and the grammar's
    // skip between tokens tests one character.
    let blanked = blanked(text, &scanned);
    let parsed = blanked.as_deref().unwrap_or(text);
    match OpsParser::parse(Rule::file, parsed) {
        Ok(mut pairs) => {
            let Some(pair) = pairs.next() else {
                return failed(diag::internal_error(
                    Span::at(0),
                    "the parser returned nothing",
                ));
            };
            let (ast, mut diagnostics) = lower::lower_file(pair, text, &scanned.comments);
            if ast.as_ref().is_some_and(|a| a.stmts.is_empty()) {
                diagnostics.push(diag::empty_file());
            }
            Parsed {
                ast,
                comments: scanned.comments,
                diagnostics,
            }
        }
        Err(error) => Parsed {
            ast: None,
            comments: scanned.comments,
            diagnostics: vec![syntax_error(parsed, Rule::file, error)],
        },
    }
}

/// Parses a single expression (a schema default, a `--set` value).
pub fn parse_expr(text: &str) -> Result<Expr, Vec<Diagnostic>> {
    let scanned = scan::scan(text);
    if let Some(error) = scanned.error {
        return Err(vec![error]);
    }
    let whole = format!("{}\n", blanked(text, &scanned).as_deref().unwrap_or(text));
    match OpsParser::parse(Rule::expr_only, &whole) {
        Ok(mut pairs) => {
            let Some(pair) = pairs.next() else {
                return Err(vec![diag::internal_error(
                    Span::at(0),
                    "the parser returned nothing",
                )]);
            };
            lower::lower_expr_only(pair, &whole)
        }
        Err(error) => Err(vec![syntax_error(&whole, Rule::expr_only, error)]),
    }
}

fn failed(diagnostic: Diagnostic) -> Parsed {
    Parsed {
        ast: None,
        comments: Vec::new(),
        diagnostics: vec![diagnostic],
    }
}

/// Turns a pest error into a diagnostic that names what was expected in words.
fn syntax_error(text: &str, start: Rule, error: pest::error::Error<Rule>) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let ErrorVariant::CustomError { message } = &error.variant
        && message.contains("limit")
    {
        return diag::nesting_too_deep(Span::at(pos), scan::MAX_NESTING);
    }
    let (positives, negatives): (Vec<Rule>, Vec<Rule>) = match &error.variant {
        ErrorVariant::ParsingError {
            positives,
            negatives,
        } => (positives.clone(), negatives.clone()),
        ErrorVariant::CustomError { .. } => (Vec::new(), Vec::new()),
    };
    // A second, detailed attempt names the literal tokens (`=`, `{`) pest tried and
    // the furthest position any of them was tried at, which is where the error is.
    pest::set_error_detail(true);
    let detailed = OpsParser::parse(start, text).err();
    pest::set_error_detail(false);
    let attempts = detailed.and_then(|e| e.parse_attempts());
    let mut pos = pos;
    let mut rules = positives.clone();
    let mut tokens: Vec<String> = Vec::new();
    if let Some(a) = attempts.filter(|a| a.max_position >= pos && !positives.is_empty()) {
        let mut deeper: Vec<Rule> = a
            .call_stacks()
            .iter()
            .filter_map(|s| s.deepest.get_rule().copied())
            .collect();
        let deeper_tokens: Vec<String> =
            a.expected_tokens().iter().map(|t| t.to_string()).collect();
        if a.max_position == pos {
            rules.append(&mut deeper);
            tokens = deeper_tokens;
        } else if !expected_categories(&deeper, &deeper_tokens).is_empty() {
            // Further than pest's own position, and something was expected there: that is
            // where the text goes wrong. (A lookahead that matched, such as an operator's
            // first-character guard, can reach further without expecting anything.)
            pos = a.max_position;
            rules = deeper;
            tokens = deeper_tokens;
        }
    }
    let keyword_line = {
        let line_start = text[..pos.min(text.len())].rfind('\n').map_or(0, |p| p + 1);
        let first = text[line_start..].split_whitespace().next().unwrap_or("");
        STATEMENT_KEYWORDS.contains(&first)
    };
    if keyword_line {
        rules.retain(|r| *r != Rule::attr);
        tokens.retain(|t| t != "=");
    }
    // A keyword rule's trailing `!ident_char` lookahead registers an attempt right
    // after the keyword was matched: that keyword is not what is missing.
    let before_word = text[..pos.min(text.len())]
        .trim_end()
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    rules.retain(|r| {
        rule_name(*r) != format!("`{before_word}`") && !(*r == Rule::kw_as && before_word == "as")
    });
    let mut expected = expected_categories(&rules, &tokens);
    if expected.is_empty() && !negatives.is_empty() {
        expected.push("a value");
    }
    let expected_text = match expected.len() {
        0 => String::from("something else"),
        1 => expected[0].to_string(),
        n => format!("{} or {}", expected[..n - 1].join(", "), expected[n - 1]),
    };
    let (found, span) = found_at(text, pos);
    diag::syntax_error(
        span,
        &expected_text,
        &found,
        syntax_help(text, pos, &found, &expected_text),
    )
}

/// What the parser met at `pos`, in words, and its span.
fn found_at(text: &str, pos: usize) -> (String, Span) {
    let rest = text.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return (String::from("the end of the file"), Span::at(pos));
    };
    if first == '\n' || first == '\r' {
        return (String::from("the end of the line"), Span::at(pos));
    }
    let word_len: usize = rest
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .map(|(_, c)| c.len_utf8())
        .sum();
    let len = if word_len > 0 {
        word_len.min(40)
    } else {
        first.len_utf8()
    };
    let shown: String = rest[..len].chars().filter(|c| !c.is_control()).collect();
    (format!("`{shown}`"), Span::new(pos, pos + len))
}

/// Targeted advice for the commonest syntax mistakes.
fn syntax_help(text: &str, pos: usize, found: &str, expected: &str) -> Option<String> {
    let line_start = text[..pos.min(text.len())].rfind('\n').map_or(0, |p| p + 1);
    let before = text.get(line_start..pos).unwrap_or("").trim();
    if found == "`{`" && before.is_empty() {
        return Some(String::from(
            "put the opening `{` on the same line as the statement it belongs to",
        ));
    }
    if found == "the end of the line" && expected.contains("body") && !before.ends_with('=') {
        return Some(String::from(
            "put the opening `{` on the same line as the statement it belongs to",
        ));
    }
    if found == "the end of the line" && before.ends_with('=') {
        return Some(String::from("a value is missing after `=`"));
    }
    if found == "`=`" && before.starts_with("expect") {
        return Some(String::from("`expect` compares with `==`, not `=`"));
    }
    if found == "`:`" {
        return Some(String::from(
            "attributes are written `name = value`, not `name: value`",
        ));
    }
    if before.starts_with("retry") {
        return Some(String::from(
            "the form is `retry N every D backoff constant|exponential max D jitter` (only N is required)",
        ));
    }
    if before.starts_with("param") {
        return Some(String::from(
            "the form is `param NAME: TYPE = default { description = \"...\" }`",
        ));
    }
    None
}

/// Collapses what pest tried at the failing position into a few human categories.
fn expected_categories(positives: &[Rule], tokens: &[String]) -> Vec<&'static str> {
    let has = |r: Rule| positives.contains(&r);
    let has_token = |t: &str| tokens.iter().any(|x| x == t);
    let statement = positives
        .iter()
        .any(|r| *r == Rule::step_kind || is_statement_rule(*r));
    let strings_only = positives.iter().all(|r| {
        matches!(
            r,
            Rule::string | Rule::line_string | Rule::triple_string | Rule::attr
        )
    });
    let value = !statement
        && positives.iter().any(|r| {
            matches!(
                r,
                Rule::expr
                    | Rule::value_start
                    | Rule::primary
                    | Rule::head_arg
                    | Rule::retry_arg
                    | Rule::paren
                    | Rule::list
                    | Rule::map
                    | Rule::quantity
                    | Rule::float
                    | Rule::int
                    | Rule::boolean
                    | Rule::string
                    | Rule::path
                    | Rule::ident
                    | Rule::line_string
                    | Rule::triple_string
            )
        });
    let mut out = Vec::new();
    for (token, name) in [
        ("=", "`=`"),
        (":", "`:`"),
        (",", "`,`"),
        ("]", "`]`"),
        (")", "`)`"),
        ("<", "`<`"),
    ] {
        if has_token(token) && !(token == "<" && (value || has(Rule::cmp_op))) {
            out.push(name);
        }
    }
    if value && strings_only {
        out.push("a string");
    } else if value {
        out.push("a value");
    }
    if has(Rule::type_expr) || has(Rule::type_name) {
        out.push("a type like `string` or `list<url>`");
    }
    if has(Rule::cmp_op) {
        out.push("a comparison (`==`, `!=`, `<`, `contains`, `matches`, `in`, ...)");
    }
    if has(Rule::kw_and) || has(Rule::kw_or) {
        out.push("`and`/`or`");
    }
    if has(Rule::kw_as) {
        out.push("`as NAME`");
    }
    if has(Rule::block) || (has_token("{") && !value) {
        out.push("a `{ ... }` body");
    }
    if has_token("}") {
        out.push("`}`");
    }
    if statement {
        out.push("a statement");
    }
    if has(Rule::name) && !statement {
        out.push("a name");
    }
    if has(Rule::kw_in) {
        out.push("`in`");
    }
    if has(Rule::kw_failure) {
        out.push("`failure`");
    }
    for rule in positives {
        if matches!(
            rule,
            Rule::kw_every | Rule::kw_backoff | Rule::kw_max | Rule::kw_jitter | Rule::kw_limit
        ) {
            out.push(rule_name(*rule));
        }
    }
    if has_token(";") && !statement {
        out.push("the end of the line");
    }
    if out.is_empty() {
        out.extend(positives.iter().map(|r| rule_name(*r)));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|e| seen.insert(*e));
    if out.is_empty() && has(Rule::EOI) {
        out.push("the end of the file");
    }
    out
}

/// The human name of every grammar rule, for error messages. No catch-all arm: a new
/// rule does not compile until it has a name here.
pub fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the file",
        Rule::WHITESPACE | Rule::sep | Rule::nl => "a new line",
        Rule::file => "a runbook",
        Rule::expr_only => "an expression",
        Rule::block => "a `{ ... }` block",
        Rule::stmt | Rule::keyword_stmt => "a statement",
        Rule::runbook_block => "a `runbook` block",
        Rule::param_decl => "a `param` declaration",
        Rule::type_expr | Rule::type_name => "a type like `string` or `list<url>`",
        Rule::secret_decl => "a `secret` declaration",
        Rule::let_decl => "a `let` binding",
        Rule::include => "an `include`",
        Rule::stage => "a `stage`",
        Rule::parallel => "a `parallel` group",
        Rule::for_loop => "a `for` loop",
        Rule::on_failure => "an `on failure` handler",
        Rule::always => "an `always` handler",
        Rule::attr => "an attribute `name = value`",
        Rule::expect => "an `expect`",
        Rule::retry => "a `retry` modifier",
        Rule::retry_arg => "a number or duration",
        Rule::timeout => "a `timeout` modifier",
        Rule::when => "a `when` modifier",
        Rule::step => "a step",
        Rule::step_kind => "a step kind",
        Rule::head_arg => "a step argument",
        Rule::expr | Rule::operand | Rule::primary | Rule::value_start => "a value",
        Rule::binop => "an operator",
        Rule::paren => "`(`",
        Rule::list => "a list `[...]`",
        Rule::map => "a map `{ key = value }`",
        Rule::map_sep => "`,` or a new line",
        Rule::map_entry => "a map entry `key = value`",
        Rule::path => "a name",
        Rule::path_field => "`.field`",
        Rule::path_index => "`[index]`",
        Rule::cmp_op => "a comparison (`==`, `!=`, `<`, `contains`, `matches`, `in`, ...)",
        Rule::op_eq => "`==`",
        Rule::op_ne => "`!=`",
        Rule::op_le => "`<=`",
        Rule::op_ge => "`>=`",
        Rule::op_lt => "`<`",
        Rule::op_gt => "`>`",
        Rule::op_contains => "`contains`",
        Rule::op_matches => "`matches`",
        Rule::op_in => "`in`",
        Rule::op_not_contains => "`not contains`",
        Rule::op_not_matches => "`not matches`",
        Rule::op_not_in => "`not in`",
        Rule::quantity => "a duration like `30s` or a size like `10MiB`",
        Rule::float => "a number",
        Rule::int => "a number",
        Rule::boolean | Rule::bool_guarded => "`true` or `false`",
        Rule::string | Rule::line_string | Rule::triple_string => "a string",
        Rule::line_text | Rule::triple_text => "string text",
        Rule::escape => "an escape like `\\n`",
        Rule::interp => "an interpolation `${...}`",
        Rule::ident_char => "a letter, digit or `_`",
        Rule::ident | Rule::name => "a name",
        Rule::kw_runbook => "`runbook`",
        Rule::kw_param => "`param`",
        Rule::kw_secret => "`secret`",
        Rule::kw_let => "`let`",
        Rule::kw_include => "`include`",
        Rule::kw_stage => "`stage`",
        Rule::kw_parallel => "`parallel`",
        Rule::kw_limit => "`limit`",
        Rule::kw_for => "`for`",
        Rule::kw_in => "`in`",
        Rule::kw_on => "`on`",
        Rule::kw_failure => "`failure`",
        Rule::kw_always => "`always`",
        Rule::kw_expect => "`expect`",
        Rule::kw_retry => "`retry`",
        Rule::kw_every => "`every`",
        Rule::kw_backoff => "`backoff`",
        Rule::kw_max => "`max`",
        Rule::kw_jitter => "`jitter`",
        Rule::kw_timeout => "`timeout`",
        Rule::kw_when => "`when`",
        Rule::kw_as => "`as NAME`",
        Rule::kw_or => "`or`",
        Rule::kw_and => "`and`",
        Rule::kw_not => "`not`",
        Rule::kw_true => "`true`",
        Rule::stmt_keyword => "a statement keyword",
        Rule::kw_false => "`false`",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Comments reach the parser as spaces: anywhere a comment may stand, the file still
    /// parses, tokens keep their byte positions (also after multi-byte text in a
    /// comment), a `#` inside a string stays text, and an error after a comment is
    /// reported where it is.
    #[test]
    fn comments_anywhere_are_blanks_to_the_parser_and_move_no_position() {
        let text = "# héader — ünïcode\nrunbook \"x\" { # after a brace\n  title = \"a # not a comment\" # trailing\n  owner = \"o\"\n}\nlet xs = [ # in a list\n  1, # one\n  2\n]\nnotify stdout \"${xs}\" # end\n";
        let parsed = parse(text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(parsed.comments.len(), 6);
        let ast = parsed.ast.expect("parses");
        let last = ast.stmts.last().expect("a statement");
        let at = text.find("notify").expect("notify");
        assert_eq!(last.span().start, at);
        assert!(text[last.span().start..last.span().end].starts_with("notify stdout"));
        let bad = "# ünïcode comment\nparam port int = 8080\n";
        let parsed = parse(bad);
        let d = parsed.diagnostics.first().expect("an error");
        assert_eq!(d.code, crate::Code::SyntaxError, "{d:?}");
        assert_eq!(d.span.start, bad.find("int").expect("int"), "{d:?}");
    }

    /// Tabs in code reach the parser as spaces and parse as blanks do, while a tab in a
    /// string stays a tab; strings hold `$`, `#` and multi-byte text up to their end;
    /// a control character in a string is refused where it is.
    #[test]
    fn tabs_in_code_are_blanks_and_string_text_is_kept_whole() {
        let text = "runbook \"x\" {\n\ttitle\t=\t\"a\tb $5 # ü ${\"in\"}\"\n\towner = \"o\"\n}\nwait\t1s\n";
        let parsed = parse(text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let dump = crate::dump::dump(parsed.ast.as_ref().expect("parses"), false);
        assert!(dump.contains(r"a\tb $5 # ü "), "{dump}");
        assert!(dump.contains("\"in\""), "{dump}");
        let wait = text.find("wait").expect("wait");
        assert_eq!(
            parsed
                .ast
                .expect("ast")
                .stmts
                .last()
                .expect("wait")
                .span()
                .start,
            wait
        );
        let bad = "notify stdout \"a\u{1b}[31mred\"\n";
        let d = parse(bad).diagnostics;
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, crate::Code::ControlCharacter, "{d:?}");
        assert_eq!(d[0].span.start, bad.find('\u{1b}').expect("escape"));
        assert!(parse_expr("\t[1,\t2]").is_ok());
    }
}
