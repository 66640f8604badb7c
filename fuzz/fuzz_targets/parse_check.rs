//! Any bytes through decode, parse, load and check against the stdlib's schemas, then
//! every diagnostic rendered: nothing may panic, hang or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The fuzzed bytes are the main file; every include or call finds nothing.
struct One<'a>(&'a [u8]);

impl lang::Loader for One<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        if path == "fuzz.rb.ops" {
            Ok(self.0.to_vec())
        } else {
            Err(String::from("no such file"))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let program = lang::Program::load("fuzz.rb.ops", &One(data), &stdlib::SCHEMAS);
    let mut diagnostics: Vec<lang::Diagnostic> = program.parse_diagnostics().cloned().collect();
    if program
        .unit(program.main)
        .is_some_and(|u| u.parsed.ast.is_some())
    {
        let checked = lang::check(&program, &stdlib::SCHEMAS, &lang::check::CheckOptions::default());
        diagnostics.extend(checked.diagnostics);
    }
    let options = lang::diag::render::RenderOptions::default();
    for d in diagnostics.iter().take(50) {
        let _ = lang::diag::render::human(d, &program.sources, options);
        let _ = lang::diag::render::positions(d, &program.sources);
    }
});
