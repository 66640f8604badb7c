//! Any text the formatter accepts formats to a fixed point: fmt(fmt(x)) == fmt(x), and
//! the formatted text always formats again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(once) = lang::fmt::format_source(text) {
        let twice = lang::fmt::format_source(&once)
            .unwrap_or_else(|e| panic!("the formatted text does not format again: {e:?}\n{once}"));
        assert_eq!(once, twice, "not idempotent");
    }
});
