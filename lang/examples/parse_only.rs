//! Parses every file named on the command line (scan, pest, lowering) and prints the
//! bytes and diagnostics: the parser's share of `ops check`, for callgrind
//! (`valgrind --tool=callgrind target/release/examples/parse_only FILE...`).

fn main() {
    let (mut bytes, mut diags) = (0, 0);
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        bytes += text.len();
        diags += lang::parse(&text).diagnostics.len();
    }
    println!("{bytes} bytes, {diags} diagnostics");
}
