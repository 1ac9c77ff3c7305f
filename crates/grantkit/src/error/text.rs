//! Provider-supplied text made safe for messages and logs: cut, cleaned, secrets scrubbed.

/// An excerpt cut by [`truncate`] may end in the first characters of a secret: they go too. Three
/// characters or more count; fewer would match by chance and tell nothing.
fn redact_cut_start(text: &mut String, secret: &str) {
    let Some(kept) = text.strip_suffix('…') else {
        return;
    };
    let start = (3..secret.len())
        .rev()
        .filter(|&k| secret.is_char_boundary(k))
        .find(|&k| kept.ends_with(&secret[..k]));
    if let Some(k) = start {
        *text = format!("{}[redacted]…", &kept[..kept.len() - k]);
    }
}

/// Replaces every secret in `text` (raw and form-encoded; shorter than 4 characters is not a
/// secret worth a false positive), and the first characters of one cut at the end of `text`.
pub(crate) fn scrub_text(text: &mut String, secrets: &[&str]) {
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [*secret, encoded.as_str()] {
            if text.contains(form) {
                *text = text.replace(form, "[redacted]");
            }
            redact_cut_start(text, form);
        }
    }
}

/// Cuts a provider-supplied string to `max` characters and drops control characters, so a
/// hostile server cannot flood logs or forge log lines.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// When to retry, in words for a message: `after 30 s`, or `later` when the server did not say.
/// Provider crates use it so every rate-limit message of the workspace reads the same.
pub fn retry_words(retry_after: Option<std::time::Duration>) -> String {
    match retry_after {
        Some(d) => format!("after {} s", d.as_secs_f64().ceil() as u64),
        None => "later".to_owned(),
    }
}
