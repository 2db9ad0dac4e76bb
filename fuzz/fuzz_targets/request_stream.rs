//! Any bytes as an HTTP/1 request stream through the raw-target rewriter, cut into
//! reads at the places the first byte chooses: it never panics, and a stream
//! without bytes to encode comes out as it went in.
#![no_main]
use entman_http::server::lenient::Rewriter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(cut).max(1);
    let mut rewriter = Rewriter::default();
    let mut out = Vec::new();
    for chunk in input.chunks(piece) {
        rewriter.feed(chunk, &mut out);
    }
    rewriter.finish(&mut out);
    let plain = input.iter().all(|&b| b.is_ascii() && !b"\"<>{}|\\^`".contains(&b));
    if plain && input.starts_with(b"GET / HTTP/1.1\r\n") && !out.windows(9).any(|w| w == b"_entman/m") {
        assert_eq!(out, input);
    }
});
