//! The agent's session credential.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

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
/// # Ok::<(), ccgw::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Guid(Zeroizing<String>);

use crate::error::Error;

/// `InvalidArgument` for a Guid; the text is not repeated (it is a secret).
fn invalid_guid(e: ccgw_client::InvalidGuid) -> Error {
    let problem = e.to_string();
    Error::InvalidArgument {
        field: "Guid",
        value: "(not shown)".to_owned(),
        problem: problem
            .strip_prefix("invalid Guid: ")
            .unwrap_or(&problem)
            .to_owned(),
    }
}

impl Guid {
    /// Checks and takes `value`: a bare Guid or `JSESSIONID=<guid>`; surrounding
    /// whitespace is ignored. The input is zeroised whether it is accepted or not.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let input = Zeroizing::new(value.into());
        let bare = ccgw_client::parse_guid(&input).map_err(invalid_guid)?;
        Ok(Self(Zeroizing::new(bare.to_owned())))
    }

    /// The secret value, for sending it. Do not log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl FromStr for Guid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for Guid {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Guid {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self, Error> {
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

/// A session's load-balancer affinity: the cookies (`name=value; …`) its sign-in answer
/// set, which send every call of the session to the gateway node that holds it. A secret
/// like the [`Guid`]: `Debug` and `Display` print `<redacted>`. Only needed to keep a
/// session between runs ([`Agent::affinity`](crate::Agent::affinity),
/// [`GatewayClient::agent`](crate::GatewayClient::agent)); sessions keep it by themselves.
///
/// ```
/// let affinity = ccgw::Affinity::new("huaweielbsession=n1-0f3a")?;
/// assert_eq!(format!("{affinity} {affinity:?}"), "<redacted> Affinity(<redacted>)");
/// assert!(ccgw::Affinity::new("a=1\r\nX-Injected: 1").is_err());
/// # Ok::<(), ccgw::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Affinity(Zeroizing<String>);

impl Affinity {
    /// Checks and takes `value`, a `Cookie` header value (`a=1; b=2`): printable ASCII,
    /// every part `name=value`.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = Zeroizing::new(value.into());
        let text = value.trim();
        let printable = text.bytes().all(|b| (0x20..0x7f).contains(&b));
        let pairs = text.split(';').all(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(n, _)| !n.trim().is_empty())
        });
        if text.is_empty() || !printable || !pairs {
            return Err(Error::InvalidArgument {
                field: "load-balancer affinity",
                value: "(not shown)".to_owned(),
                problem: "must be a Cookie header value (name=value pairs of printable ASCII, \
                          separated by `;`)"
                    .to_owned(),
            });
        }
        Ok(Self(Zeroizing::new(text.to_owned())))
    }

    /// The secret value, for keeping it. Do not log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Affinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Affinity(<redacted>)")
    }
}

impl fmt::Display for Affinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_set_guid_form_and_refuses_header_injection() {
        let guid = Guid::new("  JSESSIONID=abc.AgentGateway1\t").expect("valid");
        assert_eq!(guid.expose_secret(), "abc.AgentGateway1");
        let e = Guid::new("a\r\nb").expect_err("not header safe");
        assert_eq!(
            e.to_string(),
            "invalid Guid (not shown): only visible ASCII characters are allowed (no spaces, controls or non-ASCII)"
        );
    }

    #[test]
    fn an_affinity_is_a_cookie_header_value() {
        assert!(Affinity::new("a=1; b=2").is_ok());
        for bad in ["", "  ", "novalue", "=1", "a=1;;b=2", "a=1\r\nX: 1", "a=ü"] {
            let e = Affinity::new(bad).expect_err("not a cookie header value");
            assert!(
                e.to_string().starts_with(
                    "invalid load-balancer affinity (not shown): must be a Cookie header value"
                ),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn never_printed() {
        let guid = Guid::new("SENTINEL-SECRET").expect("valid");
        let shown = format!("{guid} {guid:?} {guid:#?} {:?}", Some(&guid));
        assert!(!shown.contains("SENTINEL"), "{shown}");
        assert_eq!(format!("{guid} {guid:?}"), "<redacted> Guid(<redacted>)");
        let affinity = Affinity::new("lb=SENTINEL-COOKIE").expect("valid");
        assert_eq!(
            format!("{affinity} {affinity:?}"),
            "<redacted> Affinity(<redacted>)"
        );
        assert_eq!(affinity.expose_secret(), "lb=SENTINEL-COOKIE");
    }
}
