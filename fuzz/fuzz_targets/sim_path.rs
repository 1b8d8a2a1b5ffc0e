//! The simulator's rest path and query checks: any text, no panic, and only values
//! inside the contract pass.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '/');
    let (agent, time, cause, query) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next(),
    );
    if let Some((a, t, _c, _p)) = ccgw_sim::check_rest_values(agent, time, cause, query)
    {
        assert!((101..=999_999).contains(&a));
        assert!((1..=86_399).contains(&t));
    }
});
