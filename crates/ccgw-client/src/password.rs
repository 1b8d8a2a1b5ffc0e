//! The sign-in password: the generated `LoginRequest` holds this type in place of a
//! `String` (the spec's `Password` schema, replaced in `xtask gen`'s settings).

use std::fmt;

use zeroize::Zeroizing;

/// An agent's password: written into the sign-in request's body and nowhere else.
/// `Debug` prints `<redacted>`; the text is wiped from memory when the value is dropped.
#[derive(Clone, Default)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// The password `text` (the spec's `Password` schema allows at most 32 characters;
    /// `ccgw` refuses a longer one before sending).
    pub fn new(text: Zeroizing<String>) -> Self {
        Password(text)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl serde::Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Password(Zeroizing::new(text)))
    }
}

#[cfg(test)]
mod tests {
    use crate::types::LoginRequest;

    #[test]
    fn a_sign_in_request_prints_no_password_and_sends_it() {
        let request: LoginRequest =
            serde_json::from_str(r#"{"password":"SENTINEL-PW","phonenum":"40101"}"#)
                .expect("a sign-in body");
        let shown = format!("{request:?} {request:#?}");
        assert!(!shown.contains("SENTINEL-PW"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let body = serde_json::to_string(&request).expect("serialized");
        assert!(body.contains(r#""password":"SENTINEL-PW""#), "{body}");
    }
}
