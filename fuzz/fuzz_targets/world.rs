//! Any text as a world definition: parsing and checking (every object built,
//! jobs and their schedules included) never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(world) = entman_world::parse(text) {
            let _ = entman_world::check(&world);
        }
    }
});
