//! The one check of a Guid's text, shared by the session (every `Set-GUID` it takes)
//! and by `ccgw`'s `Guid` type.

use std::fmt;

/// Longest Guid accepted (real ones are about 50 characters).
pub const MAX_GUID_LEN: usize = 512;
/// Prefix of the gateway's `Set-GUID` response header value.
const SET_GUID_PREFIX: &str = "JSESSIONID=";

/// Why a text is not a usable Guid. Never contains the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidGuid {
    /// Nothing (or only `JSESSIONID=`) was given.
    Empty,
    /// Longer than any Guid a gateway issues ([`MAX_GUID_LEN`]).
    TooLong,
    /// A space, control character (CR, LF, …) or non-ASCII character.
    NotHeaderSafe,
}

impl fmt::Display for InvalidGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidGuid::Empty => f.write_str("invalid Guid: it is empty"),
            InvalidGuid::TooLong => {
                write!(f, "invalid Guid: longer than {MAX_GUID_LEN} characters")
            }
            InvalidGuid::NotHeaderSafe => f.write_str(
                "invalid Guid: only visible ASCII characters are allowed (no spaces, controls or non-ASCII)",
            ),
        }
    }
}

impl std::error::Error for InvalidGuid {}

/// Checks a Guid as a client gets it — bare (`279fe21d-…-ab9e9dae20f5.AgentGateway0`) or
/// in the `Set-GUID` form `JSESSIONID=<guid>`, surrounding spaces and tabs ignored — and
/// returns the bare value. Anything that could not be sent as a header value (empty,
/// spaces, CR, LF, other controls, non-ASCII) is refused, so a Guid can never inject a
/// header.
///
/// ```
/// use ccgw_client::{InvalidGuid, parse_guid};
/// assert_eq!(parse_guid("JSESSIONID=abc.AgentGateway0"), Ok("abc.AgentGateway0"));
/// assert_eq!(parse_guid("a\r\nX-Evil: 1"), Err(InvalidGuid::NotHeaderSafe));
/// ```
pub fn parse_guid(value: &str) -> Result<&str, InvalidGuid> {
    let trimmed = value.trim_matches([' ', '\t']);
    let bare = trimmed
        .get(..SET_GUID_PREFIX.len())
        .filter(|head| head.eq_ignore_ascii_case(SET_GUID_PREFIX))
        .map_or(trimmed, |_| &trimmed[SET_GUID_PREFIX.len()..]);
    check_bare_guid(bare)
}

/// Checks a bare Guid as it is — no trimming, no `JSESSIONID=` prefix taken off — by the
/// rules of [`parse_guid`]. What [`parse_guid`] returns always passes.
///
/// ```
/// use ccgw_client::{InvalidGuid, check_bare_guid};
/// assert_eq!(check_bare_guid("abc.AgentGateway0"), Ok("abc.AgentGateway0"));
/// assert_eq!(check_bare_guid(" abc"), Err(InvalidGuid::NotHeaderSafe));
/// ```
pub fn check_bare_guid(bare: &str) -> Result<&str, InvalidGuid> {
    if bare.is_empty() {
        return Err(InvalidGuid::Empty);
    }
    if bare.len() > MAX_GUID_LEN {
        return Err(InvalidGuid::TooLong);
    }
    if !bare.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidGuid::NotHeaderSafe);
    }
    Ok(bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guid_of_the_longest_length_is_accepted_and_one_longer_is_not() {
        let longest = "g".repeat(MAX_GUID_LEN);
        assert_eq!(check_bare_guid(&longest), Ok(longest.as_str()));
        let longer = "g".repeat(MAX_GUID_LEN + 1);
        assert_eq!(check_bare_guid(&longer), Err(InvalidGuid::TooLong));
    }

    #[test]
    fn accepts_bare_and_set_guid_forms() {
        for (input, bare) in [
            ("abc.AgentGateway1", "abc.AgentGateway1"),
            ("JSESSIONID=abc.AgentGateway1", "abc.AgentGateway1"),
            ("jsessionid=abc", "abc"),
            ("  JSESSIONID=abc\t", "abc"),
        ] {
            assert_eq!(parse_guid(input), Ok(bare));
        }
    }

    /// Found by the `guid` fuzz target: a Guid whose bare value itself begins with
    /// `JSESSIONID=` lost that part a second time when the session took it.
    #[test]
    fn a_parsed_guid_is_taken_as_it_is() {
        for input in [
            "JSESSIONID=JSESSIONID=",
            "JSESSIONID=JSESSIONID=x",
            "JSESSIONID= x",
        ] {
            if let Ok(bare) = parse_guid(input) {
                assert_eq!(check_bare_guid(bare), Ok(bare), "{input:?}");
            }
        }
        assert_eq!(parse_guid("JSESSIONID=JSESSIONID="), Ok("JSESSIONID="));
    }

    #[test]
    fn rejects_what_cannot_be_a_header_value() {
        assert_eq!(parse_guid(""), Err(InvalidGuid::Empty));
        assert_eq!(parse_guid("JSESSIONID="), Err(InvalidGuid::Empty));
        assert_eq!(
            parse_guid(&"x".repeat(MAX_GUID_LEN + 1)),
            Err(InvalidGuid::TooLong)
        );
        for bad in [
            "a\r\nb",
            "a\nb",
            "a b",
            "a\tb",
            "a\u{0}b",
            "a\u{7f}",
            "gü",
            "JSESSIONID=a b",
        ] {
            assert_eq!(parse_guid(bad), Err(InvalidGuid::NotHeaderSafe), "{bad:?}");
        }
    }

    #[test]
    fn each_refusal_says_why_without_the_value() {
        assert_eq!(InvalidGuid::Empty.to_string(), "invalid Guid: it is empty");
        assert_eq!(
            InvalidGuid::TooLong.to_string(),
            format!("invalid Guid: longer than {MAX_GUID_LEN} characters")
        );
        assert!(
            InvalidGuid::NotHeaderSafe
                .to_string()
                .starts_with("invalid Guid: only visible ASCII characters")
        );
    }
}
