//! The terminal: how wide rendered diagnostics may be.

/// Columns for rendered diagnostics: `COLUMNS` when set, else the width of the terminal
/// on stdout or stderr (at least 40); into a pipe, a file or a CI log nothing is wrapped,
/// so a message stays on one line for `grep`.
pub fn width() -> usize {
    /// Wide enough that no message or help wraps.
    const UNWRAPPED: usize = 4096;
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok());
    let from_tty = || {
        [
            rustix::termios::tcgetwinsize(std::io::stdout()),
            rustix::termios::tcgetwinsize(std::io::stderr()),
        ]
        .into_iter()
        .flatten()
        .map(|w| usize::from(w.ws_col))
        .find(|&c| c > 0)
    };
    from_env
        .or_else(from_tty)
        .map_or(UNWRAPPED, |c| c.clamp(40, UNWRAPPED))
}
