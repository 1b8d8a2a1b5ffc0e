//! Making text from the gateway safe to show: printable, bounded, and never the Guid.

/// Longest excerpt of a body or message kept in an error.
pub(crate) const EXCERPT_CHARS: usize = 200;
/// Bytes of a body read at most to build an excerpt.
pub(crate) const EXCERPT_BYTES: usize = 1024;

/// `text` with control characters replaced by spaces (runs collapsed), trimmed, and cut
/// to `max_chars` characters (an ellipsis marks the cut).
pub(crate) fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut chars = 0;
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        if chars == max_chars {
            out.push('…');
            return out.trim_end().to_owned();
        }
        last_space = c == ' ';
        out.push(c);
        chars += 1;
    }
    out.trim_end().to_owned()
}

/// An excerpt of a body: lossy UTF-8, printable, bounded, with `secret` removed.
pub(crate) fn excerpt(bytes: &[u8], secret: &str) -> String {
    let head = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let mut text = scrub(&String::from_utf8_lossy(head), secret);
    if head.len() < bytes.len() {
        // The cut may have split the secret: drop a trailing piece of it.
        if let Some(k) = (1..secret.len())
            .rev()
            .find(|&k| text.ends_with(&secret[..k]))
        {
            text.truncate(text.len() - k);
        }
    }
    printable(&text, EXCERPT_CHARS)
}

/// `text` with every occurrence of `secret` replaced by `<redacted>` (a gateway page
/// that echoes request headers must not carry the Guid into an error).
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() || !text.contains(secret) {
        text.to_owned()
    } else {
        text.replace(secret, "<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_removes_controls_and_bounds_length() {
        assert_eq!(printable("a\r\n\tb", 10), "a b");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("  x  ", 10), "x");
        assert_eq!(printable("", 10), "");
    }

    #[test]
    fn excerpt_scrubs_the_secret_even_when_cut() {
        let body = b"<html>guid: SECRET-G</html>";
        assert_eq!(excerpt(body, "SECRET-G"), "<html>guid: <redacted></html>");
        let long = format!("{}SECRET-G", "x".repeat(195));
        assert!(!excerpt(long.as_bytes(), "SECRET-G").contains("SECRET"));
        // Collapsed whitespace lets the cut at EXCERPT_BYTES show up in the excerpt.
        let split = format!("{}SECRET-G", "\n".repeat(EXCERPT_BYTES - 3));
        let shown = excerpt(split.as_bytes(), "SECRET-G");
        assert!(!shown.contains("SEC"), "{shown}");
        // Only the piece of the secret goes; what came before it stays.
        let split = format!("{}ab SECRET-G", "\n".repeat(EXCERPT_BYTES - 6));
        assert_eq!(excerpt(split.as_bytes(), "SECRET-G"), "ab");
    }

    #[test]
    fn a_body_that_was_not_cut_keeps_its_end() {
        // Ending like the start of the secret is no reason to drop anything.
        assert_eq!(excerpt(b"status SEC", "SECRET-G"), "status SEC");
    }

    #[test]
    fn no_secret_changes_nothing() {
        assert_eq!(scrub("a body", ""), "a body");
        assert_eq!(scrub("a body", "SECRET-G"), "a body");
    }
}
