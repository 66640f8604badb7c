//! `fmt`: the canonical layout of `.rb.ops` files, and value display helpers.

use std::time::Duration;

/// A duration as a literal: `1h30m`, `45s`, `250ms`.
pub fn duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return String::from("0s");
    }
    let mut out = String::new();
    for (unit, len) in [("w", 604_800_000u128), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= len {
            out.push_str(&format!("{}{unit}", ms / len));
            ms %= len;
        }
    }
    out
}

/// A size as a literal: `10MiB`, `1500B`.
pub fn size(bytes: u64) -> String {
    for (unit, len) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= len && bytes % len == 0 {
            return format!("{}{unit}", bytes / len);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_display_as_literals() {
        assert_eq!(duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(duration(Duration::from_secs(90 * 86_400)), "12w6d");
        assert_eq!(size(10 << 20), "10MiB");
        assert_eq!(size(1500), "1500B");
    }
}
