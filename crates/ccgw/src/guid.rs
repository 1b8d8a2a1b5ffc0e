//! The agent's session credential.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

/// Longest Guid accepted (real ones are about 50 characters).
const MAX_LEN: usize = 512;
/// Prefix of the gateway's `Set-GUID` response header value.
const SET_GUID_PREFIX: &str = "JSESSIONID=";

/// The Guid of a signed-in agent's session: a secret.
///
/// - Accepts the bare value (`279fe21d-…-ab9e9dae20f5.AgentGateway0`) or the gateway's
///   `Set-GUID` header form `JSESSIONID=<value>`.
/// - Rejects anything that could not be sent as a header value: empty, spaces, CR, LF,
///   other control characters, non-ASCII.
/// - `Debug` and `Display` print `<redacted>`; its memory is zeroised on drop (the copy an
///   agent keeps as its request header value cannot be: `http` header values are immutable).
///
/// ```
/// use ccgw::Guid;
/// let guid: Guid = "JSESSIONID=279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0".parse()?;
/// assert_eq!(guid.expose_secret(), "279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0");
/// assert_eq!(format!("{guid} {guid:?}"), "<redacted> Guid(<redacted>)");
/// assert!("a\r\nX-Injected: 1".parse::<Guid>().is_err());
/// # Ok::<(), ccgw::InvalidGuid>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Guid(Zeroizing<String>);

/// Why a text is not a usable Guid. Never contains the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidGuid {
    /// Nothing (or only `JSESSIONID=`) was given.
    #[error("invalid Guid: it is empty")]
    Empty,
    /// Longer than any Guid a gateway issues.
    #[error("invalid Guid: longer than {MAX_LEN} characters")]
    TooLong,
    /// A space, control character (CR, LF, …) or non-ASCII character.
    #[error(
        "invalid Guid: only visible ASCII characters are allowed (no spaces, controls or non-ASCII)"
    )]
    NotHeaderSafe,
}

impl Guid {
    /// Checks and takes `value`: a bare Guid or `JSESSIONID=<guid>`; surrounding
    /// whitespace is ignored. The input is zeroised whether it is accepted or not.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidGuid> {
        let input = Zeroizing::new(value.into());
        let trimmed = input.trim_matches([' ', '\t']);
        let bare = strip_prefix_ignore_case(trimmed, SET_GUID_PREFIX).unwrap_or(trimmed);
        if bare.is_empty() {
            return Err(InvalidGuid::Empty);
        }
        if bare.len() > MAX_LEN {
            return Err(InvalidGuid::TooLong);
        }
        if !bare.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidGuid::NotHeaderSafe);
        }
        Ok(Self(Zeroizing::new(bare.to_owned())))
    }

    /// The Guid from a `Set-GUID` response header value (`JSESSIONID=<guid>`). Same rules
    /// as [`Guid::new`], which also accepts this form.
    pub fn from_set_guid_header(value: &str) -> Result<Self, InvalidGuid> {
        Self::new(value)
    }

    /// The secret value, for sending it. Do not log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl FromStr for Guid {
    type Err = InvalidGuid;

    fn from_str(s: &str) -> Result<Self, InvalidGuid> {
        Self::new(s)
    }
}

impl TryFrom<String> for Guid {
    type Error = InvalidGuid;

    fn try_from(s: String) -> Result<Self, InvalidGuid> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Guid {
    type Error = InvalidGuid;

    fn try_from(s: &str) -> Result<Self, InvalidGuid> {
        Self::new(s)
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Guid(<redacted>)")
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bare_and_set_guid_forms() {
        for (input, bare) in [
            ("abc.AgentGateway1", "abc.AgentGateway1"),
            ("JSESSIONID=abc.AgentGateway1", "abc.AgentGateway1"),
            ("jsessionid=abc", "abc"),
            ("  JSESSIONID=abc\t", "abc"),
        ] {
            assert_eq!(
                Guid::new(input).map(|g| g.expose_secret().to_owned()),
                Ok(bare.to_owned())
            );
        }
    }

    #[test]
    fn rejects_what_cannot_be_a_header_value() {
        assert_eq!(Guid::new(""), Err(InvalidGuid::Empty));
        assert_eq!(Guid::new("JSESSIONID="), Err(InvalidGuid::Empty));
        assert_eq!(
            Guid::new("x".repeat(MAX_LEN + 1)),
            Err(InvalidGuid::TooLong)
        );
        for bad in [
            "a\r\nb",
            "a\nb",
            "a b",
            "a\u{0}b",
            "a\u{7f}",
            "gü",
            "JSESSIONID=a b",
        ] {
            assert_eq!(Guid::new(bad), Err(InvalidGuid::NotHeaderSafe), "{bad:?}");
        }
    }

    #[test]
    fn never_printed() {
        let guid = Guid::new("SENTINEL-SECRET").expect("valid");
        let shown = format!("{guid} {guid:?} {guid:#?} {:?}", Some(&guid));
        assert!(!shown.contains("SENTINEL"), "{shown}");
    }
}
