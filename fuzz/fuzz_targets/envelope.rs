//! Decoding every answer envelope the generated client knows: any bytes, no panic.
#![no_main]

use ccgw_client::types;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<types::RestResponse>(data);
    let _ = serde_json::from_slice::<types::Envelope>(data);
    let _ = serde_json::from_slice::<types::LoginResponse>(data);
    let _ = serde_json::from_slice::<types::AgentStatusResponse>(data);
    if let Ok(answer) = serde_json::from_slice::<types::EventResponse>(data) {
        // An event the envelope carried is always typed, never a failure.
        if let Some(event) = answer.event {
            let typed: Result<ccgw::AgentEvent, _> = event.to_string().parse();
            assert!(typed.is_ok(), "an event the envelope carried is typed");
        }
    }
});
