//! Return-code parsing never fails; known codes round-trip; an unknown code stays
//! unknown when parsed again and carries no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let code = ccgw::RetCode::parse(&text);
    assert!(code.as_str().chars().count() <= 32);
    assert!(!code.as_str().chars().any(char::is_control));
    match &code {
        ccgw::RetCode::Other(_) => assert!(matches!(
            ccgw::RetCode::parse(code.as_str()),
            ccgw::RetCode::Other(_)
        )),
        known => assert_eq!(&ccgw::RetCode::parse(code.as_str()), known),
    }
    let _ = code.to_string();
});
