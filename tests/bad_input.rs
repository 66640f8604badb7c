//! Hostile input: every case ends in a diagnostic with a code and a position, never a
//! panic, a stack overflow or a hang. Tests run on the default 2 MiB test-thread stack,
//! which is smaller than a real run's main thread.

use std::time::{Duration, Instant};

use lang::Code;

/// Parses `text` (and checks it) and returns the diagnostics' codes; fails the test if
/// that takes longer than `limit`.
fn codes(text: &str, limit: Duration) -> Vec<Code> {
    let start = Instant::now();
    let parsed = lang::parse(text);
    let mut out: Vec<Code> = parsed.diagnostics.iter().map(|d| d.code).collect();
    if parsed.ast.is_some() {
        let loader = lang::MemoryLoader::new().with("input.rb.ops", text);
        let program = lang::Program::load("input.rb.ops", &loader, &stdlib::SCHEMAS);
        let checked = lang::check(&program, &stdlib::SCHEMAS, &lang::CheckOptions::default());
        out.extend(checked.diagnostics.iter().map(|d| d.code));
        let _ = lang::fmt::format_source(text);
    }
    for d in &parsed.diagnostics {
        assert!(
            d.span.end <= text.len(),
            "span {:?} outside the text",
            d.span
        );
    }
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
    out
}

fn quick(text: &str) -> Vec<Code> {
    codes(text, Duration::from_secs(20))
}

#[test]
fn empty_and_blank_files() {
    assert_eq!(quick(""), vec![Code::EmptyFile]);
    assert_eq!(quick("   \n\n\t\n"), vec![Code::EmptyFile]);
    assert_eq!(quick("# only a comment\n"), vec![Code::EmptyFile]);
}

#[test]
fn invalid_utf8_and_binary_are_refused_with_a_position() {
    let err =
        lang::parse::decode(b"runbook \"x\" {\n  title = \"caf\xe9\"\n}\n").expect_err("invalid");
    assert_eq!(err.code, Code::InvalidUtf8);
    assert_eq!(err.span.start, 28);
    let err = lang::parse::decode(b"runbook\x00").expect_err("binary");
    assert_eq!(err.code, Code::BinaryFile);
    assert_eq!(err.span.start, 7);
    // Random bytes: whatever they are, decode or parse answers with a code.
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state & 0xff) as u8
            })
            .collect();
        match lang::parse::decode(&bytes) {
            Err(d) => assert!(matches!(d.code, Code::InvalidUtf8 | Code::BinaryFile)),
            Ok(text) => assert!(!quick(text).is_empty()),
        }
    }
}

#[test]
fn ten_megabytes_is_refused_before_parsing() {
    let big = "# padding\n".repeat(1_100_000);
    assert!(big.len() > 10_000_000);
    let err = lang::parse::decode(big.as_bytes()).expect_err("too large");
    assert_eq!(err.code, Code::FileTooLarge);
    assert_eq!(
        codes(&big, Duration::from_secs(5)),
        vec![Code::FileTooLarge]
    );
}

#[test]
fn ten_thousand_nested_blocks_hit_the_nesting_limit() {
    let text = format!(
        "{}{}",
        "stage \"a\" {\n".repeat(10_000),
        "}\n".repeat(10_000)
    );
    assert_eq!(quick(&text), vec![Code::NestingTooDeep]);
    let brackets = format!("let x = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(quick(&brackets), vec![Code::NestingTooDeep]);
    let parens = format!("let x = {}1{}\n", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(quick(&parens), vec![Code::NestingTooDeep]);
    let interps = format!("notify stdout {}\n", "\"${".repeat(5_000));
    assert_eq!(quick(&interps), vec![Code::NestingTooDeep]);
}

#[test]
fn nesting_just_under_the_limit_parses_checks_and_formats() {
    let depth = lang::scan::MAX_NESTING - 1;
    let text = format!("let x = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
    let parsed = lang::parse(&text);
    assert!(parsed.is_ok(), "{:?}", parsed.diagnostics);
    let formatted = lang::fmt::format_source(&text).expect("formats");
    assert_eq!(
        lang::fmt::format_source(&formatted).expect("again"),
        formatted
    );
}

#[test]
fn hundred_thousand_character_lines() {
    // Files of only `let`s are libraries: valid, and nothing to report.
    let string = format!("let x = \"{}\"\n", "a".repeat(100_000));
    assert_eq!(quick(&string), Vec::<Code>::new());
    let ident = format!("let {} = 1\n", "a".repeat(100_000));
    assert_eq!(quick(&ident), Vec::<Code>::new());
    let chain = format!("let x = {}\n", vec!["true"; 20_000].join(" and "));
    assert_eq!(quick(&chain), Vec::<Code>::new());
    let runbook = format!(
        "runbook \"long\" {{\n  title = \"{}\"\n  owner = \"o\"\n}}\nwait 1s\n",
        "t".repeat(100_000)
    );
    assert_eq!(quick(&runbook), Vec::<Code>::new());
    let nots = format!("let x = {}true\n", "not ".repeat(25_000));
    assert_eq!(quick(&nots), vec![Code::ExpressionTooComplex]);
    let unterminated = format!("let x = \"{}\n", "a".repeat(100_000));
    assert_eq!(quick(&unterminated), vec![Code::UnterminatedString]);
    let garbage_line = format!("{}\n", "@".repeat(100_000));
    assert_eq!(quick(&garbage_line), vec![Code::SyntaxError]);
}

#[test]
fn unterminated_strings_and_interpolations() {
    assert_eq!(
        quick("notify stdout \"abc\n"),
        vec![Code::UnterminatedString]
    );
    assert_eq!(quick("notify stdout \"abc"), vec![Code::UnterminatedString]);
    assert_eq!(
        quick("notify stdout \"\"\"abc\n"),
        vec![Code::UnterminatedString]
    );
    assert_eq!(
        quick("notify stdout \"${name\"\n"),
        vec![Code::UnterminatedInterpolation]
    );
    assert_eq!(
        quick("notify stdout \"${\n"),
        vec![Code::UnterminatedInterpolation]
    );
    assert_eq!(
        quick("notify stdout \"${"),
        vec![Code::UnterminatedInterpolation]
    );
    assert_eq!(quick("${"), vec![Code::SyntaxError]);
    assert_eq!(quick("let x = ${name}\n"), vec![Code::SyntaxError]);
    assert_eq!(
        quick("notify stdout \"\"\"${\n\"\"\"\n"),
        vec![Code::UnterminatedInterpolation]
    );
}

#[test]
fn many_steps_are_linear() {
    let mut text = String::from("runbook \"many\" {\n  title = \"Many\"\n  owner = \"ops\"\n}\n");
    for i in 0..20_000 {
        text.push_str(&format!(
            "probe tcp \"127.0.0.1:{}\" as p{i}\n",
            i % 65_000 + 1
        ));
    }
    assert_eq!(codes(&text, Duration::from_secs(30)), Vec::<Code>::new());
}

#[test]
fn unknown_things_get_suggestions() {
    let text = "runbook \"s\" {\n  title = \"t\"\n  owner = \"o\"\n}\nprobe htpp \"http://127.0.0.1/\" {\n  tiemout = 5s\n}\n";
    let parsed = lang::parse(text);
    let loader = lang::MemoryLoader::new().with("s.rb.ops", text);
    let program = lang::Program::load("s.rb.ops", &loader, &stdlib::SCHEMAS);
    let checked = lang::check(&program, &stdlib::SCHEMAS, &lang::CheckOptions::default());
    assert!(parsed.is_ok());
    let d = checked.diagnostics.first().expect("a diagnostic");
    assert_eq!(d.code, Code::UnknownVariant);
    assert!(
        d.help
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `http`?"),
        "{:?}",
        d.help
    );
}

#[test]
fn diagnostics_on_huge_lines_render_without_the_line() {
    let text = format!("let x = \"{}\n", "a".repeat(100_000));
    let parsed = lang::parse(&text);
    let mut sources = lang::SourceMap::new();
    let file = sources.add("long.rb.ops", text.as_str());
    let d = parsed
        .diagnostics
        .first()
        .expect("unterminated string")
        .clone()
        .in_file(file);
    let shown =
        lang::diag::render::human(&d, &sources, lang::diag::render::RenderOptions::default());
    assert!(shown.len() < 1_000, "{} bytes rendered", shown.len());
    assert!(shown.contains("long.rb.ops:1:9"), "{shown}");
    assert!(shown.contains("OPS1006"), "{shown}");
}
