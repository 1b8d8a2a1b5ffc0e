//! Typing events: any JSON becomes an `AgentEvent`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let event = ccgw::AgentEvent::from_json(value.clone());
        if let Some(name) = value.get("eventType").and_then(|v| v.as_str()) {
            assert_eq!(event.event_type(), name);
        }
    }
});
