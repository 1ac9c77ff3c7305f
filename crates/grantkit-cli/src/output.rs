//! Human output on stderr (colour only on a terminal, never with `NO_COLOR`), stdout lines,
//! terminal-safe text, and time in words.
//!
//! Everything the CLI prints passes through [`Out::line`] or [`print_stdout`], which escape the
//! characters a terminal would act on instead of showing ([`terminal_safe`]): providers choose
//! names, emails, device codes, URIs and error texts, and an OSC 52 sequence in a user's name
//! would otherwise write to the clipboard.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where human-readable lines go: stderr, or stdout for a command whose output is the report
/// itself (`status`, so that `grantkit status | grep` works).
#[derive(Clone, Copy, Debug)]
pub struct Out {
    color: bool,
    stdout: bool,
}

impl Out {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset or empty.
    pub fn new() -> Self {
        Self {
            color: colour_allowed() && std::io::stderr().is_terminal(),
            stdout: false,
        }
    }

    /// Lines on stdout instead, coloured only when stdout is a terminal.
    pub fn stdout() -> Self {
        Self {
            color: colour_allowed() && std::io::stdout().is_terminal(),
            stdout: true,
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

    /// A line on stderr (or stdout), [terminal-safe](terminal_safe) except for this `Out`'s
    /// own colours.
    pub fn line(&self, text: &str) {
        let text = escape_controls(text, Keep::LinesAndColours(self.color));
        if self.stdout {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        } else {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        }
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

fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Lines on stdout (a URL, a token, JSON), at once, with the characters a terminal acts on
/// escaped as `\uXXXX` — which in JSON strings is the same character, so the data is unchanged.
pub fn print_stdout(text: &str) {
    let text = escape_controls(text, Keep::LinesAndColours(false));
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// `text` from a provider, made safe to show inside a line: every control character (C0
/// including newlines, DEL, C1) and every bidirectional-formatting character is written as
/// `\uXXXX`, so that it shows instead of acting (an OSC 52 clipboard write, a cursor move, a
/// screen clear, a forged line, text reordered by a right-to-left override).
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    escape_controls(text, Keep::Nothing)
}

#[derive(Clone, Copy, PartialEq)]
enum Keep {
    Nothing,
    /// Newlines and tabs, and with `true` the SGR colour sequences `\x1b[<digits>m`.
    LinesAndColours(bool),
}

fn escape_controls(text: &str, keep: Keep) -> Cow<'_, str> {
    let acts = |c: char| {
        let kept = matches!(keep, Keep::LinesAndColours(_)) && matches!(c, '\n' | '\t');
        !kept && is_active(c)
    };
    if !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if keep == Keep::LinesAndColours(true) {
            if let Some(len) = sgr_len(rest) {
                out.push_str(&rest[..len]);
                rest = &rest[len..];
                continue;
            }
        }
        if acts(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length of the colour sequence `text` starts with, if it is one the CLI itself writes
/// ([`Out::paint`]'s codes). Any other (`ESC[8m` conceals the rest of the line) is escaped,
/// since provider text may carry it.
fn sgr_len(text: &str) -> Option<usize> {
    const OURS: [&str; 6] = ["0", "1", "2", "31", "32", "33"];
    let body = text.strip_prefix("\x1b[")?;
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let code = body.get(..digits)?;
    (OURS.contains(&code) && body[digits..].starts_with('m')).then_some(2 + digits + 1)
}

/// Characters a terminal may act on rather than show: C0 controls, DEL, C1 controls (U+009B
/// is a CSI by itself), and the bidirectional formatting characters (Trojan Source).
fn is_active(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
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
    let Some((i, &(size, name))) = UNITS
        .iter()
        .enumerate()
        .find(|(_, (size, _))| secs >= *size)
    else {
        return plural(0, "second");
    };
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

    #[test]
    fn terminal_escapes_are_shown_not_acted_on() {
        let hostile = "\x1b]52;c;ZWNobw==\x07Mallory\x1b[2J\u{9b}2J\u{202e}\r\nline";
        let safe = terminal_safe(hostile);
        assert_eq!(
            safe,
            "\\u001b]52;c;ZWNobw==\\u0007Mallory\\u001b[2J\\u009b2J\\u202e\\u000d\\u000aline"
        );
        assert!(matches!(terminal_safe("Alice ✓ Ωμέγα"), Cow::Borrowed(_)));
        // At the sinks: lines and tabs stay; our colours stay only when colour is on.
        let coloured = "\x1b[32m✓\x1b[0m a\tb\nc\x1b[2J";
        assert_eq!(
            escape_controls(coloured, Keep::LinesAndColours(true)),
            "\x1b[32m✓\x1b[0m a\tb\nc\\u001b[2J"
        );
        // A provider's own colour code that conceals the rest of the line is not ours: shown.
        assert_eq!(
            escape_controls("name \x1b[8mhidden", Keep::LinesAndColours(true)),
            "name \\u001b[8mhidden"
        );
        assert_eq!(
            escape_controls(coloured, Keep::LinesAndColours(false)),
            "\\u001b[32m✓\\u001b[0m a\tb\nc\\u001b[2J"
        );
        // JSON keeps its meaning: the escape is JSON's own.
        let json = serde_json::json!({ "name": hostile }).to_string();
        let printed = escape_controls(&json, Keep::LinesAndColours(false));
        let back: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(back["name"], hostile);
    }
}
