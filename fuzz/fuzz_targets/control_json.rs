//! Any bytes as a control API document: a fault rule (and its glob against a
//! path made of the same bytes) and a snapshot document.
#![no_main]
use entman_http::control::faults::{glob_matches, Rule};
use entman_http::control::read_snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = glob_matches(data, data);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(rule) = Rule::from_json(&value) {
            let _ = rule.matches("GET", &rule.path, None);
            let _ = rule.action.delay();
        }
        let _ = read_snapshot(&value);
    }
});
