//! Making text from the gateway safe to show: printable, bounded, and without a secret.
//!
//! Every text of the gateway's that leaves the library — an error's message, body
//! excerpt or reason, an unknown return code, an unknown event — passes through one
//! [`Redactor`]: it knows the agent's secrets (every Guid and cookie its session held,
//! the password it signed in with, and what the caller registered in
//! [`Config::secrets`](crate::Config::secrets)) and masks any token shaped like a
//! gateway Guid (`<uuid>.AgentGateway<N>`) or a bare UUID, whoever it belongs to. It
//! masks the whole text, then cuts it, then masks again and drops what the cut left of
//! a secret at the end.

use zeroize::Zeroizing;

/// Longest excerpt of a body or message kept in an error.
pub(crate) const EXCERPT_CHARS: usize = 200;
/// Bytes of a body read at most to build an excerpt.
pub(crate) const EXCERPT_BYTES: usize = 1024;
/// What a secret is replaced with.
const MASK: &str = "<redacted>";
/// Secrets shorter than this are not looked for: masking every `ab` would garble the
/// text and protect nothing.
pub(crate) const SHORTEST_SECRET: usize = 4;
/// The suffix of a gateway Guid's node name.
const GUID_NODE: &str = ".AgentGateway";
/// A cut text ending in this many characters that could begin a UUID loses them.
const UUID_PIECE: usize = 4;

/// The secrets one agent's texts are checked against.
#[derive(Default)]
pub(crate) struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    secrets: Vec<Zeroizing<String>>,
}

impl Redactor {
    pub(crate) fn new(secrets: impl IntoIterator<Item = Zeroizing<String>>) -> Self {
        let mut secrets: Vec<_> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= SHORTEST_SECRET)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret masked, printable (controls collapsed), cut to
    /// `max_chars` characters.
    pub(crate) fn text(&self, text: &str, max_chars: usize) -> String {
        let whole = self.mask(text);
        let shown = printable(&whole, max_chars);
        let cut = shown.ends_with('…') && !whole.trim_end().ends_with('…');
        self.finish(&shown, cut)
    }

    /// An excerpt of a body: lossy UTF-8, at most [`EXCERPT_BYTES`] read, masked, printable
    /// and at most [`EXCERPT_CHARS`] long.
    pub(crate) fn excerpt(&self, bytes: &[u8]) -> String {
        let head = &bytes[..bytes.len().min(EXCERPT_BYTES)];
        let whole = self.mask(&String::from_utf8_lossy(head));
        let shown = printable(&whole, EXCERPT_CHARS);
        let cut = head.len() < bytes.len() || shown.ends_with('…');
        self.finish(&shown, cut)
    }

    /// `text` with every secret and every Guid- or UUID-shaped token masked, not cut.
    pub(crate) fn mask(&self, text: &str) -> String {
        let mut text = mask_guid_shapes(text);
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        text
    }

    /// Masks once more (collapsing controls may have joined a secret), and when the text
    /// was cut, drops what the cut left of a secret or of a Guid at its end.
    fn finish(&self, shown: &str, cut: bool) -> String {
        if !cut {
            return self.mask(shown);
        }
        let mut text = self.mask(shown.strip_suffix('…').unwrap_or(shown));
        let piece = self
            .secrets
            .iter()
            .filter_map(|s| {
                (1..s.len())
                    .rev()
                    .filter(|&k| s.is_char_boundary(k))
                    .find(|&k| text.ends_with(&s[..k]))
            })
            .max()
            .unwrap_or(0)
            .max(guid_piece(&text));
        text.truncate(text.len() - piece);
        let mut text = text.trim_end().to_owned();
        text.push('…');
        text
    }
}

/// `text` with control characters replaced by spaces (runs collapsed), trimmed, and cut
/// to `max_chars` characters (an ellipsis marks the cut). Shows no secret by itself: use
/// it only for texts that cannot hold one (a content type), or through a [`Redactor`].
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

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `text` with every `<token>.AgentGateway<digits>` and every UUID (8-4-4-4-12 hex
/// digits) replaced by the mask.
fn mask_guid_shapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let node = GUID_NODE.to_ascii_lowercase();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&node).map(|i| i + from) {
        let mut start = at;
        while start > 0 && is_token(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = at + node.len();
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        spans.push((start, end));
        from = end;
    }
    let mut i = 0;
    while i + 36 <= bytes.len() {
        if is_uuid(&bytes[i..i + 36]) && (i == 0 || !bytes[i - 1].is_ascii_hexdigit()) {
            spans.push((i, i + 36));
            i += 36;
        } else {
            i += 1;
        }
    }
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if start >= at {
            out.push_str(&text[at..start]);
            out.push_str(MASK);
            at = end;
        } else if end > at {
            at = end;
        }
    }
    out.push_str(&text[at..]);
    out
}

fn is_uuid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

/// How many bytes at the end of a cut `text` may be the start of a Guid: a run of hex
/// digits and dashes long enough to begin a UUID, or a token cut in `.AgentGateway`.
fn guid_piece(text: &str) -> usize {
    let b = text.as_bytes();
    let hex = b
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_hexdigit() || **c == b'-')
        .count();
    let hex = if hex >= UUID_PIECE { hex } else { 0 };
    let letters = b
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let dot = b.len() - letters;
    let in_node = letters > 0
        && dot > 0
        && b[dot - 1] == b'.'
        && GUID_NODE[1..]
            .to_ascii_lowercase()
            .starts_with(&text[dot..].to_ascii_lowercase());
    let node = if in_node {
        let mut start = dot - 1;
        while start > 0 && is_token(b[start - 1]) {
            start -= 1;
        }
        b.len() - start
    } else {
        0
    };
    hex.max(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0";

    fn redactor(secrets: &[&str]) -> Redactor {
        Redactor::new(secrets.iter().map(|s| Zeroizing::new((*s).to_owned())))
    }

    #[test]
    fn printable_removes_controls_and_bounds_length() {
        assert_eq!(printable("a\r\n\tb", 10), "a b");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("  x  ", 10), "x");
        assert_eq!(printable("", 10), "");
    }

    #[test]
    fn known_secrets_are_masked_wherever_they_stand() {
        let r = redactor(&["SECRET-G", "lb-cookie-value", "pw-of-101"]);
        assert_eq!(
            r.text("guid SECRET-G, cookie lb=lb-cookie-value; pw-of-101!", 200),
            "guid <redacted>, cookie lb=<redacted>; <redacted>!"
        );
        // A secret that only becomes whole once controls are collapsed: none can, the
        // mask runs on the whole text first and again at the end.
        assert!(!r.text("SECRET-G\n", 200).contains("SECRET"));
    }

    #[test]
    fn guid_shaped_tokens_are_masked_without_being_known() {
        let r = Redactor::default();
        assert_eq!(
            r.text(&format!("old {GUID} new"), 200),
            "old <redacted> new"
        );
        assert_eq!(
            r.text("abc.agentgateway12 and x_y-z.AgentGateway", 200),
            "<redacted> and <redacted>"
        );
        assert_eq!(
            r.text("id 279fe21d-2caa-4437-84c3-ab9e9dae20f5 end", 200),
            "id <redacted> end"
        );
        assert_eq!(
            r.text("retcode 100-006, agent 101", 200),
            "retcode 100-006, agent 101"
        );
    }

    #[test]
    fn a_secret_split_by_the_cut_leaves_nothing_of_itself() {
        // A secret is whole before the cut, so it is masked whole; a cut that falls in
        // the mask leaves a piece of the mask, never of the secret.
        let r = redactor(&["SECRET-GUID-VALUE"]);
        for keep in 1..17 {
            let text = format!("{}SECRET-GUID-VALUE", "x".repeat(200 - keep));
            let shown = r.text(&text, 200);
            assert!(!shown.contains("SE"), "{keep}: {shown}");
        }
        // An unknown Guid split by the cut: the piece goes too.
        let r = Redactor::default();
        for keep in 4..GUID.len() {
            let text = format!("{} {GUID}", "x".repeat(200 - keep - 1));
            let shown = r.text(&text, 200);
            assert!(!shown.contains("279fe2"), "{keep}: {shown}");
        }
    }

    /// A body cut at [`EXCERPT_BYTES`] inside a Guid nobody knew: whatever the cut left
    /// of it (four characters or more) goes, in the UUID or in `.AgentGateway`.
    #[test]
    fn a_guid_cut_with_the_body_leaves_nothing_of_itself() {
        let r = Redactor::default();
        for kept in 4..GUID.len() {
            let body = format!("ab{}{GUID} tail", "\n".repeat(EXCERPT_BYTES - 2 - kept));
            let shown = r.excerpt(body.as_bytes());
            // Once the whole UUID is there, it is masked as one.
            assert!(
                ["ab…", "ab <redacted>…", "ab <redacted>.…"].contains(&shown.as_str()),
                "{kept} bytes of the Guid kept: {shown}"
            );
        }
        // A Guid that is not a UUID, cut in its node name: the whole token goes.
        let odd = "SENTINEL-GUID-7f3a9c41.AgentGateway0";
        for kept in odd.find('.').map_or(0, |dot| dot + 2)..odd.len() - 1 {
            let body = format!("ab{}{odd} tail", "\n".repeat(EXCERPT_BYTES - 2 - kept));
            assert_eq!(r.excerpt(body.as_bytes()), "ab…", "{kept} bytes kept");
        }
    }

    #[test]
    fn excerpt_masks_even_when_cut() {
        let r = redactor(&["SECRET-G"]);
        assert_eq!(
            r.excerpt(b"<html>guid: SECRET-G</html>"),
            "<html>guid: <redacted></html>"
        );
        let split = format!("{}ab SECRET-G", "\n".repeat(EXCERPT_BYTES - 6));
        assert_eq!(r.excerpt(split.as_bytes()), "ab…");
        // Ending like the start of a secret is no reason to drop anything when nothing
        // was cut.
        assert_eq!(r.excerpt(b"status SEC"), "status SEC");
        // A cut right after a sentence's full stop is no cut inside `.AgentGateway`.
        let sentence = format!("{}ab refused. more", "\n".repeat(EXCERPT_BYTES - 11));
        assert_eq!(r.excerpt(sentence.as_bytes()), "ab refused.…");
    }

    #[test]
    fn short_secrets_are_not_looked_for() {
        let r = redactor(&["", "ab"]);
        assert_eq!(r.text("a body about abc", 200), "a body about abc");
    }
}
