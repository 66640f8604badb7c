//! The `runbook "id" { ... }` block: catalog metadata, validated strictly because
//! the catalog, the quarterly re-validation and the plan's budget all read it.

use std::time::Duration;

use super::Checker;
use super::decl::plain_string;
use super::types::Type;
use crate::ast::*;
use crate::diag;

/// How hard a runbook is to carry out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Complexity {
    /// Anyone on the team.
    Beginner,
    /// Needs familiarity with the system.
    Intermediate,
    /// Needs an expert.
    Advanced,
}

impl Complexity {
    /// The word as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Beginner => "beginner",
            Complexity::Intermediate => "intermediate",
            Complexity::Advanced => "advanced",
        }
    }
}

const COMPLEXITIES: &[&str] = &["beginner", "intermediate", "advanced"];

/// A maintenance window: days of the week, a time range and a time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Days it applies to, Monday = 0 … Sunday = 6.
    pub days: Vec<u8>,
    /// Start, minutes after midnight.
    pub start: u16,
    /// End, minutes after midnight (before `start` when it crosses midnight).
    pub end: u16,
    /// IANA time zone name (or `UTC`).
    pub tz: String,
    /// As written.
    pub text: String,
}

/// The content of a `runbook` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// The runbook's id.
    pub id: String,
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `owner`.
    pub owner: Option<String>,
    /// `category`.
    pub category: Option<String>,
    /// `complexity`.
    pub complexity: Option<Complexity>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `validated`: when it was last validated.
    pub validated: Option<jiff::civil::Date>,
    /// `max_age`: how long a validation stays good.
    pub max_age: Option<Duration>,
    /// `budget`: the longest the runbook should take.
    pub budget: Option<Duration>,
    /// `window`: when it may run.
    pub window: Option<Window>,
    /// `escalation`: who to call when it fails.
    pub escalation: Option<String>,
    /// `lock`: named locks for shared resources (`["postgres-main"]`), held by a run
    /// together with the lock of the runbook itself.
    pub locks: Vec<String>,
}

const KEYS: &[&str] = &[
    "title",
    "description",
    "owner",
    "category",
    "complexity",
    "tags",
    "validated",
    "max_age",
    "budget",
    "window",
    "escalation",
    "lock",
];

const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Checker<'_> {
    pub(super) fn check_metadata(&mut self, block: &RunbookBlock) {
        let mut meta = Metadata::default();
        match block.id.as_plain() {
            Some(id) if valid_id(&id) => meta.id = id,
            Some(id) => {
                self.report(diag::invalid_runbook_id(block.id.span, &id));
                meta.id = id;
            }
            None => self.report(diag::plain_string_required(block.id.span, "a runbook id")),
        }
        let mut seen: Vec<&Ident> = Vec::new();
        let mut validated_span = None;
        let mut max_age_span = None;
        for stmt in &block.body.stmts {
            let Stmt::Attr(attr) = stmt else {
                self.report(diag::misplaced(
                    stmt.span(),
                    stmt.describe(),
                    "a `runbook` block",
                    "metadata attributes",
                ));
                continue;
            };
            let key = attr.name.name.as_str();
            if let Some(first) = seen.iter().find(|s| s.name == key) {
                let first = first.span;
                self.report(diag::duplicate_attribute(attr.name.span, key, first));
                continue;
            }
            seen.push(&attr.name);
            let value = &attr.value;
            let what = format!("`{key}` of the runbook");
            match key {
                "title" | "description" | "owner" | "category" | "escalation" => {
                    self.check_value(value, &Type::String, false, &what);
                    let text = self.plain(value, &what);
                    match key {
                        "title" => meta.title = text,
                        "description" => meta.description = text,
                        "owner" => meta.owner = text,
                        "category" => meta.category = text,
                        _ => meta.escalation = text,
                    }
                }
                "complexity" => {
                    self.check_value(value, &Type::Enum(COMPLEXITIES), false, &what);
                    meta.complexity = word(value).and_then(|w| match w.as_str() {
                        "beginner" => Some(Complexity::Beginner),
                        "intermediate" => Some(Complexity::Intermediate),
                        "advanced" => Some(Complexity::Advanced),
                        _ => None,
                    });
                }
                "tags" => {
                    self.check_value(value, &Type::List(Box::new(Type::String)), false, &what);
                    if let ExprKind::List(items) = &value.kind {
                        meta.tags = items.iter().filter_map(plain_string).collect();
                    }
                }
                "validated" => {
                    self.check_value(value, &Type::String, false, &what);
                    if let Some(text) = self.plain(value, &what) {
                        match text.parse::<jiff::civil::Date>() {
                            Ok(date) if text.len() == 10 => {
                                meta.validated = Some(date);
                                validated_span = Some(value.span);
                            }
                            _ => self.report(diag::invalid_date(value.span, &text)),
                        }
                    }
                }
                "max_age" | "budget" => {
                    self.check_value(value, &Type::Duration, false, &what);
                    if let ExprKind::Duration(d) = value.kind {
                        if d.is_zero() {
                            self.report(diag::value_out_of_range(value.span, &what, "above zero"));
                        }
                        if key == "max_age" {
                            meta.max_age = Some(d);
                            max_age_span = Some(value.span);
                        } else {
                            meta.budget = Some(d);
                        }
                    } else if !matches!(value.kind, ExprKind::Path(_)) {
                        // a type mismatch was reported
                    } else {
                        self.report(diag::plain_string_required(value.span, &what));
                    }
                }
                "window" => {
                    self.check_value(value, &Type::String, false, &what);
                    if let Some(text) = self.plain(value, &what) {
                        match parse_window(&text) {
                            Ok(window) => meta.window = Some(window),
                            Err(why) => self.report(diag::invalid_window(value.span, &text, &why)),
                        }
                    }
                }
                "lock" => {
                    self.check_value(value, &Type::List(Box::new(Type::String)), false, &what);
                    if let ExprKind::List(items) = &value.kind {
                        for item in items {
                            match plain_string(item) {
                                Some(name) if valid_id(&name) => {
                                    if !meta.locks.contains(&name) {
                                        meta.locks.push(name);
                                    }
                                }
                                Some(name) => {
                                    self.report(diag::invalid_lock_name(item.span, &name))
                                }
                                None => self
                                    .report(diag::plain_string_required(item.span, "a lock name")),
                            }
                        }
                    }
                }
                other => self.report(diag::unknown_attribute(
                    attr.name.span,
                    other,
                    "runbook",
                    KEYS,
                )),
            }
        }
        let missing: Vec<String> = ["title", "owner"]
            .iter()
            .filter(|k| !seen.iter().any(|s| s.name == **k))
            .map(|k| k.to_string())
            .collect();
        if !missing.is_empty() {
            let head = block.span.start..block.body.span.start;
            self.report(diag::missing_metadata(
                Span::new(head.start, head.end.saturating_sub(1).max(head.start)),
                &missing,
            ));
        }
        let validated_written = seen.iter().any(|s| s.name == "validated");
        if validated_written && meta.validated.is_none() {
            // an invalid date was reported; freshness cannot be judged
        } else {
            self.check_freshness(&meta, validated_span, max_age_span, block.id.span);
        }
        self.meta = Some(meta);
    }

    /// Warns when the last validation is older than `max_age`, or in the future.
    fn check_freshness(
        &mut self,
        meta: &Metadata,
        validated_span: Option<Span>,
        max_age_span: Option<Span>,
        id_span: Span,
    ) {
        let Some(today) = self.options.today else {
            return;
        };
        if let (Some(date), Some(span)) = (meta.validated, validated_span)
            && date > today
        {
            self.report(diag::validated_in_future(
                span,
                &date.to_string(),
                &today.to_string(),
            ));
            return;
        }
        let Some(max_age) = meta.max_age else {
            return;
        };
        let days = (max_age.as_secs() / 86_400) as i64;
        match (meta.validated, validated_span) {
            (Some(date), Some(span)) => {
                let Ok(due) = date.checked_add(jiff::Span::new().days(days)) else {
                    return;
                };
                if due < today {
                    let overdue = due.until(today).map(|s| s.get_days()).unwrap_or(0);
                    self.report(diag::validation_expired(
                        span,
                        max_age_span,
                        &date.to_string(),
                        &crate::fmt::duration(max_age),
                        &due.to_string(),
                        overdue as i64,
                    ));
                }
            }
            _ => self.report(diag::never_validated(max_age_span.unwrap_or(id_span))),
        }
    }

    /// The text of a plain string, reporting interpolation.
    fn plain(&mut self, value: &Expr, what: &str) -> Option<String> {
        match &value.kind {
            ExprKind::Str(lit) => {
                let text = lit.as_plain();
                if text.is_none() {
                    self.report(diag::plain_string_required(value.span, what));
                }
                text
            }
            _ => None,
        }
    }
}

/// A bare word or plain string.
fn word(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Path(p) if p.segments.is_empty() => Some(p.root.name.clone()),
        ExprKind::Str(lit) => lit.as_plain(),
        _ => None,
    }
}

/// Runbook ids: lower-case words with `-`, `_` or `.`, as used in file names and URLs.
fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.len() <= 64
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// Parses `DAYS HH:MM-HH:MM ZONE`: e.g. `Sat 02:00-06:00 UTC`, `Mon-Fri 22:00-23:30 Europe/Berlin`,
/// `daily 01:00-02:00 UTC`, `Sat,Sun 00:00-04:00 UTC`.
pub fn parse_window(text: &str) -> Result<Window, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [days, range, tz] = parts.as_slice() else {
        return Err(String::from(
            "the form is `DAYS HH:MM-HH:MM ZONE`, e.g. `Sat 02:00-06:00 UTC`",
        ));
    };
    let days = parse_days(days)?;
    let (start, end) = range
        .split_once('-')
        .ok_or_else(|| format!("`{range}` is not a time range like `02:00-06:00`"))?;
    let start = parse_time(start)?;
    let end = parse_time(end)?;
    if start == end {
        return Err(String::from("the window starts and ends at the same time"));
    }
    let tz = if tz.eq_ignore_ascii_case("utc") || *tz == "Z" {
        String::from("UTC")
    } else if jiff::tz::db().get(tz).is_ok() {
        tz.to_string()
    } else {
        let names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_string())
            .collect();
        let hint = diag::suggest(tz, names.iter().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(format!(
            "`{tz}` is not a known time zone (use `UTC` or an IANA name like `Europe/Berlin`){hint}"
        ));
    };
    Ok(Window {
        days,
        start,
        end,
        tz,
        text: text.to_string(),
    })
}

fn parse_days(text: &str) -> Result<Vec<u8>, String> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "daily" => return Ok((0..7).collect()),
        "weekdays" => return Ok((0..5).collect()),
        "weekends" => return Ok(vec![5, 6]),
        _ => {}
    }
    let day = |d: &str| -> Result<u8, String> {
        let short: String = d.chars().take(3).collect();
        let full = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        DAYS.iter()
            .position(|x| *x == short && (d.len() == 3 || full.contains(&d)))
            .map(|p| p as u8)
            .ok_or_else(|| {
                format!("`{d}` is not a day (use Mon … Sun, `daily`, `weekdays` or `weekends`)")
            })
    };
    let mut out = Vec::new();
    for part in lower.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    out.push(d);
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => out.push(day(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn parse_time(text: &str) -> Result<u16, String> {
    let bad = || format!("`{text}` is not a time like `02:00` (24-hour HH:MM)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse() {
        let w = parse_window("Sat 02:00-06:00 UTC").expect("window");
        assert_eq!(
            (w.days.clone(), w.start, w.end, w.tz.as_str()),
            (vec![5], 120, 360, "UTC")
        );
        let w = parse_window("Mon-Fri 22:00-01:30 Europe/Berlin").expect("window");
        assert_eq!(w.days, vec![0, 1, 2, 3, 4]);
        assert_eq!(
            parse_window("Fri-Mon 00:00-01:00 UTC").map(|w| w.days),
            Ok(vec![0, 4, 5, 6])
        );
        assert!(parse_window("Saturday 02:00-06:00 UTC").is_ok());
    }

    #[test]
    fn bad_windows_say_why() {
        assert!(parse_window("Sat 2:00-06:00 UTC").is_err());
        assert!(parse_window("Sat 02:00-06:00").is_err());
        assert!(parse_window("Sun 25:00-06:00 UTC").is_err());
        let err = parse_window("Sat 02:00-06:00 Europe/Berln").expect_err("bad zone");
        assert!(err.contains("Europe/Berlin"), "{err}");
        assert!(parse_window("Funday 02:00-06:00 UTC").is_err());
    }

    #[test]
    fn ids() {
        assert!(valid_id("summit-ga-smoke"));
        assert!(valid_id("db.backup_v2"));
        assert!(!valid_id("Summit"));
        assert!(!valid_id("-x"));
        assert!(!valid_id("a b"));
    }
}
