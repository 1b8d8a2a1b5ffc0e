//! Guid parsing, bare and in the `Set-GUID` form: an accepted Guid is always a usable
//! header value and never shows in `Debug` or `Display`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for input in [text.to_string(), format!("JSESSIONID={text}")] {
        if let Ok(guid) = ccgw::Guid::new(input) {
            let secret = guid.expose_secret();
            assert!(!secret.is_empty() && secret.bytes().all(|b| b.is_ascii_graphic()));
            let shown = format!("{guid} {guid:?}");
            assert!(shown == "<redacted> Guid(<redacted>)");
            assert!(ccgw_client::Session::new().set_guid(secret).is_ok());
        }
    }
});
