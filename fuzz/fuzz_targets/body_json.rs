//! Any bytes as a JSON request body, read as every spec the API accepts.
#![no_main]
use entman_repr::input::{BodyFormat, Input};
use entman_repr::spec::{read_start_spec, BackupServerSpec, LoginSpec, PlanOptionsUpdate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = Input::parse(data, BodyFormat::Json) {
        let _ = LoginSpec::read(&input);
        let _ = BackupServerSpec::read(&input);
        let _ = read_start_spec(Some(&input));
        let _ = PlanOptionsUpdate::read(&input).map(|u| u.apply(&Default::default()));
    }
});
