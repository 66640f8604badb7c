//! Retention: which backups a policy keeps. Pure, so it is property-tested; the newest
//! verified backup of a set is always kept, whatever the policy says.

use std::time::Duration;

use jiff::Timestamp;

/// `keep_last`, `keep_within`, `keep_daily`; at least one must be given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Keep the N newest backups.
    pub keep_last: Option<usize>,
    /// Keep backups younger than this.
    pub keep_within: Option<Duration>,
    /// Keep the newest backup of each of the N newest days that have backups.
    pub keep_daily: Option<usize>,
}

impl Policy {
    /// True when no rule is given (prune refuses: it would delete everything).
    pub fn is_empty(&self) -> bool {
        self.keep_last.is_none() && self.keep_within.is_none() && self.keep_daily.is_none()
    }
}

/// One backup as retention sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When it finished.
    pub finished: Timestamp,
    /// Whether its last verification passed.
    pub verified: bool,
}

/// For each entry (any order), `Some(reason)` to keep it or `None` to delete it.
pub fn select(entries: &[Entry], policy: &Policy, now: Timestamp) -> Vec<Option<&'static str>> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|a, b| entries[*b].finished.cmp(&entries[*a].finished));
    let mut keep: Vec<Option<&'static str>> = vec![None; entries.len()];
    if let Some(n) = policy.keep_last {
        for &i in order.iter().take(n) {
            keep[i] = Some("keep_last");
        }
    }
    if let Some(within) = policy.keep_within {
        let within = jiff::SignedDuration::try_from(within).unwrap_or(jiff::SignedDuration::MAX);
        for (i, e) in entries.iter().enumerate() {
            if now.duration_since(e.finished) <= within && keep[i].is_none() {
                keep[i] = Some("keep_within");
            }
        }
    }
    if let Some(days) = policy.keep_daily {
        let mut seen = Vec::new();
        for &i in &order {
            let day = entries[i].finished.to_zoned(jiff::tz::TimeZone::UTC).date();
            if seen.contains(&day) {
                continue;
            }
            if seen.len() >= days {
                break;
            }
            seen.push(day);
            if keep[i].is_none() {
                keep[i] = Some("keep_daily");
            }
        }
    }
    if let Some(&newest_verified) = order.iter().find(|&&i| entries[i].verified) {
        keep[newest_verified] = Some("newest verified backup");
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).expect("valid")
    }

    #[test]
    fn policies_keep_what_they_say() {
        let day = 86_400;
        let entries: Vec<Entry> = (0..10)
            .map(|d| Entry {
                finished: at(d * day),
                verified: d == 2,
            })
            .collect();
        let now = at(10 * day);
        let keep = select(
            &entries,
            &Policy {
                keep_last: Some(3),
                ..Policy::default()
            },
            now,
        );
        let kept: Vec<usize> = keep
            .iter()
            .enumerate()
            .filter(|(_, k)| k.is_some())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(kept, [2, 7, 8, 9], "3 newest plus the newest verified");
        let keep = select(
            &entries,
            &Policy {
                keep_within: Some(Duration::from_secs(2 * day as u64)),
                ..Policy::default()
            },
            now,
        );
        assert_eq!(keep.iter().filter(|k| k.is_some()).count(), 3);
    }

    /// Property: over random sets and policies, the newest verified backup is never deleted.
    #[test]
    fn the_newest_verified_backup_is_never_selected() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        };
        for _ in 0..5_000 {
            let count = next(30) as usize;
            let entries: Vec<Entry> = (0..count)
                .map(|_| Entry {
                    finished: at(next(40 * 86_400) as i64),
                    verified: next(3) == 0,
                })
                .collect();
            let policy = Policy {
                keep_last: (next(2) == 0).then(|| next(5) as usize),
                keep_within: (next(2) == 0).then(|| Duration::from_secs(next(10 * 86_400))),
                keep_daily: (next(2) == 0).then(|| next(5) as usize),
            };
            let keep = select(&entries, &policy, at(40 * 86_400));
            let newest_verified = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.verified)
                .max_by_key(|(_, e)| e.finished)
                .map(|(i, _)| i);
            if let Some(i) = newest_verified {
                // Ties: some backup with the newest verified time must be kept.
                let t = entries[i].finished;
                assert!(
                    entries
                        .iter()
                        .zip(&keep)
                        .any(|(e, k)| e.verified && e.finished == t && k.is_some()),
                    "{policy:?} deletes the newest verified backup of {entries:?}"
                );
            }
        }
    }
}
