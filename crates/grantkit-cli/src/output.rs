//! Human output on stderr (colour only on a terminal, never with `NO_COLOR`), and time in words.

use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where human-readable lines go: stderr.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    color: bool,
}

impl Out {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset or empty.
    pub fn new() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: !no_color && std::io::stderr().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Bold text.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Dim text.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Green text.
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Red text.
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Yellow text.
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// A line on stderr.
    pub fn line(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// A success line.
    pub fn ok(&self, text: &str) {
        self.line(&format!("{} {text}", self.green("✓")));
    }

    /// A warning line.
    pub fn warn(&self, text: &str) {
        self.line(&format!("{} {text}", self.yellow("warning:")));
    }

    /// The error line a failed command ends with.
    pub fn error(&self, text: &str) {
        self.line(&format!("grantkit: {} {text}", self.red("error:")));
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seconds since the Unix epoch of `t`.
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A duration in words, to two adjacent units: `9 days 23 hours`, `4 minutes 10 seconds`.
pub fn words(d: Duration) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let secs = d.as_secs();
    let plural = |n: u64, name: &str| format!("{n} {name}{}", if n == 1 { "" } else { "s" });
    let Some(i) = UNITS.iter().position(|(size, _)| secs >= *size) else {
        return plural(0, "second");
    };
    let (size, name) = UNITS[i];
    let mut text = plural(secs / size, name);
    if let Some((next, next_name)) = UNITS.get(i + 1) {
        let n = secs % size / next;
        if n > 0 {
            text = format!("{text} {}", plural(n, next_name));
        }
    }
    text
}

/// `in 9 days 23 hours` or `3 minutes ago`, relative to now.
pub fn relative(at_unix: u64) -> String {
    let now = unix_now();
    if at_unix >= now {
        format!("in {}", words(Duration::from_secs(at_unix - now)))
    } else {
        format!("{} ago", words(Duration::from_secs(now - at_unix)))
    }
}

/// `Mon, 11 May 2026 09:12:00 GMT` (RFC 9110's HTTP date, by `httpdate`: no calendar code here).
pub fn utc(at_unix: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(at_unix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        assert_eq!(words(Duration::from_secs(0)), "0 seconds");
        assert_eq!(words(Duration::from_secs(1)), "1 second");
        assert_eq!(words(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(words(Duration::from_secs(864_000 - 1)), "9 days 23 hours");
        assert_eq!(words(Duration::from_secs(250)), "4 minutes 10 seconds");
        assert_eq!(words(Duration::from_secs(86_405)), "1 day");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(utc(1_767_225_600 + 3_661), "Thu, 01 Jan 2026 01:01:01 GMT");
        assert_eq!(utc(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
