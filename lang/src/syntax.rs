//! The pest binding of `grammar.pest` and the words of the syntax, listed once: the
//! statement keywords (never step kinds; the grammar's `stmt_keyword` rule spells the
//! same list, and a test keeps both equal), their rules, and the modifiers.

/// pest generates `Rule` (one variant per grammar rule) without documentation.
#[allow(missing_docs)]
mod generated {
    /// The pest parser generated from `grammar.pest`.
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar.pest"]
    pub struct OpsParser;
}

pub use generated::{OpsParser, Rule};

/// Words that start a statement of their own: never a step kind or an attribute.
pub const STATEMENT_KEYWORDS: &[&str] = &[
    "runbook", "param", "secret", "let", "include", "stage", "parallel", "for", "on", "always",
    "expect", "retry", "timeout", "when",
];

/// Statement keywords that are step modifiers (`timeout 5m`, not `timeout = 5m`).
pub const MODIFIERS: &[&str] = &["timeout", "retry", "when"];

/// The grammar rule of a statement keyword.
pub fn keyword_rule(word: &str) -> Option<Rule> {
    Some(match word {
        "runbook" => Rule::kw_runbook,
        "param" => Rule::kw_param,
        "secret" => Rule::kw_secret,
        "let" => Rule::kw_let,
        "include" => Rule::kw_include,
        "stage" => Rule::kw_stage,
        "parallel" => Rule::kw_parallel,
        "for" => Rule::kw_for,
        "on" => Rule::kw_on,
        "always" => Rule::kw_always,
        "expect" => Rule::kw_expect,
        "retry" => Rule::kw_retry,
        "timeout" => Rule::kw_timeout,
        "when" => Rule::kw_when,
        _ => return None,
    })
}

/// True for the rule of a statement keyword.
pub fn is_statement_rule(rule: Rule) -> bool {
    STATEMENT_KEYWORDS
        .iter()
        .any(|k| keyword_rule(k) == Some(rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pest::Parser as _;

    /// The grammar refuses exactly the listed words as step kinds, and each has a rule.
    #[test]
    fn the_grammar_and_the_keyword_list_agree() {
        for word in STATEMENT_KEYWORDS {
            assert!(keyword_rule(word).is_some(), "`{word}` has no rule");
            let as_step = OpsParser::parse(Rule::file, &format!("{word} \"x\"\n"))
                .map(|pairs| pairs.flatten().any(|p| p.as_rule() == Rule::step_kind));
            assert!(
                !as_step.unwrap_or(false),
                "the grammar takes `{word}` as a step kind"
            );
            assert!(
                OpsParser::parse(Rule::stmt_keyword, word).is_ok(),
                "`stmt_keyword` does not list `{word}`"
            );
        }
        for word in [
            "probe", "limit", "runbooks", "forward", "expected", "whenever",
        ] {
            assert!(
                OpsParser::parse(Rule::stmt_keyword, word).is_err(),
                "`stmt_keyword` takes `{word}`, which is not a statement keyword"
            );
        }
        for word in MODIFIERS {
            assert!(STATEMENT_KEYWORDS.contains(word), "`{word}`");
        }
    }
}
