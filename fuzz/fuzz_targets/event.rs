//! Typing events: any JSON becomes an `AgentEvent`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let event: ccgw::AgentEvent = text.parse().expect("JSON always types");
        if let Some(name) = value.get("eventType").and_then(|v| v.as_str()) {
            assert_eq!(event.event_type(), name);
        }
    }
});
