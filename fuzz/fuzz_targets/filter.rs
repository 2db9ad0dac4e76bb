//! Any text as a filter: parsing and checking against every query type must
//! return a value or an error, never panic; an accepted filter prints to text
//! that parses back to the same filter.
#![no_main]
use entman_query::{check::check_filter, parse, QueryType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(Some(filter)) = parse(text) {
        let printed = filter.to_string();
        if printed.chars().count() <= entman_query::parse::MAX_FILTER_CHARS {
            let again = parse(&printed).expect("printed filters parse").expect("and are not empty");
            assert_eq!(again.without_positions(), filter.without_positions());
        }
        for t in QueryType::ALL {
            let _ = check_filter(&filter, *t);
        }
    }
});
