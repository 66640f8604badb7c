//! Prints the parse result of a file (AST and comments), for debugging the grammar.

fn main() {
    let text =
        std::fs::read_to_string(std::env::args().nth(1).unwrap_or_default()).unwrap_or_default();
    let p = lang::parse(&text);
    if let Some(ast) = &p.ast {
        print!("{}", lang::dump::dump(ast, true));
    }
    println!("{:?}", p.comments);
}
