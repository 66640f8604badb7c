//! Whether a moment is inside a maintenance window, and when the next one opens. Pure:
//! the moment is an input (`ops` reads the clock, or `OPS_NOW` in tests).

use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::meta::Window;

/// Where a moment stands against a window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowState {
    /// Inside the window: it closes at `closes`, `left` from now.
    Open {
        /// When this opening of the window ends.
        closes: Zoned,
        /// How long until then.
        left: Duration,
    },
    /// Outside: the next opening is at `opens`, `wait` from now.
    Closed {
        /// When the window next opens.
        opens: Zoned,
        /// How long until then.
        wait: Duration,
    },
}

impl Window {
    /// The window's time zone (UTC when the name is not in the database, which the
    /// checker already refused).
    pub fn zone(&self) -> TimeZone {
        if self.tz == "UTC" {
            return TimeZone::UTC;
        }
        jiff::tz::db().get(&self.tz).unwrap_or(TimeZone::UTC)
    }

    /// The window's length on a day without a clock change.
    pub fn length(&self) -> Duration {
        let (start, end) = (u64::from(self.start), u64::from(self.end));
        let minutes = if end > start {
            end - start
        } else {
            1440 - start + end
        };
        Duration::from_secs(minutes * 60)
    }

    /// The opening of the window that starts on `date`, if the window applies that day:
    /// its start and end in the window's zone (a time that a clock change skips moves
    /// forward, as jiff's compatible rule does).
    fn opening(&self, date: Date, tz: &TimeZone) -> Option<(Zoned, Zoned)> {
        let day = u8::try_from(date.weekday().to_monday_zero_offset()).ok()?;
        if !self.days.contains(&day) {
            return None;
        }
        let at = |date: Date, minutes: u16| {
            let (h, m) = (
                i8::try_from(minutes / 60).ok()?,
                i8::try_from(minutes % 60).ok()?,
            );
            date.at(h, m, 0, 0).to_zoned(tz.clone()).ok()
        };
        let start = at(date, self.start)?;
        let end_date = if self.end > self.start {
            date
        } else {
            date.tomorrow().ok()?
        };
        let end = at(end_date, self.end)?;
        Some((start, end))
    }

    /// Where `now` stands: inside an opening (and until when) or outside (and when the
    /// next opening starts). `None` only for a window that never opens.
    pub fn state(&self, now: Timestamp) -> Option<WindowState> {
        let tz = self.zone();
        let today = now.to_zoned(tz.clone()).date();
        let since = |a: &Zoned, b: Timestamp| {
            let secs = a.timestamp().as_second().saturating_sub(b.as_second());
            Duration::from_secs(u64::try_from(secs).unwrap_or(0))
        };
        // An opening that started yesterday may still be open (a window across midnight).
        for offset in -1i32..=7 {
            let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else {
                continue;
            };
            let Some((start, end)) = self.opening(date, &tz) else {
                continue;
            };
            if start.timestamp() <= now && now < end.timestamp() {
                let left = since(&end, now);
                return Some(WindowState::Open { closes: end, left });
            }
            if start.timestamp() > now {
                let wait = since(&start, now);
                return Some(WindowState::Closed { opens: start, wait });
            }
        }
        None
    }
}

/// A moment as a plan shows it: `Sat 2026-12-05 02:00 UTC`.
pub fn moment(z: &Zoned, tz_name: &str) -> String {
    format!("{} {tz_name}", z.strftime("%a %Y-%m-%d %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::meta::parse_window;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn state(window: &str, now: &str) -> WindowState {
        parse_window(window)
            .expect("window")
            .state(at(now))
            .expect("a window that opens")
    }

    #[test]
    fn a_tuesday_evening_is_outside_a_saturday_window() {
        // 2026-12-01 is a Tuesday.
        match state("Sat 02:00-06:00 UTC", "2026-12-01T19:30:00Z") {
            WindowState::Closed { opens, wait } => {
                assert_eq!(moment(&opens, "UTC"), "Sat 2026-12-05 02:00 UTC");
                assert_eq!(wait, Duration::from_secs(((3 * 24 + 6) * 60 + 30) * 60));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn inside_a_window_says_what_is_left() {
        match state("Sat 02:00-06:00 UTC", "2026-12-05T05:15:00Z") {
            WindowState::Open { left, .. } => assert_eq!(left, Duration::from_secs(45 * 60)),
            other => panic!("{other:?}"),
        }
        // The end is exclusive: at 06:00 the next opening is a week later.
        assert!(matches!(
            state("Sat 02:00-06:00 UTC", "2026-12-05T06:00:00Z"),
            WindowState::Closed { wait, .. } if wait == Duration::from_secs((7 * 24 - 4) * 3600)
        ));
    }

    #[test]
    fn a_window_across_midnight_is_open_the_next_morning() {
        // Friday 22:00 to Saturday 01:30 in Berlin (UTC+1 in December): Saturday 00:10 UTC.
        match state("Mon-Fri 22:00-01:30 Europe/Berlin", "2026-12-05T00:10:00Z") {
            WindowState::Open { left, closes } => {
                assert_eq!(left, Duration::from_secs(20 * 60));
                assert_eq!(
                    moment(&closes, "Europe/Berlin"),
                    "Sat 2026-12-05 01:30 Europe/Berlin"
                );
            }
            other => panic!("{other:?}"),
        }
        // Saturday evening: the next opening is Monday 22:00 Berlin.
        match state("Mon-Fri 22:00-01:30 Europe/Berlin", "2026-12-05T20:00:00Z") {
            WindowState::Closed { opens, .. } => {
                assert_eq!(
                    moment(&opens, "Europe/Berlin"),
                    "Mon 2026-12-07 22:00 Europe/Berlin"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
