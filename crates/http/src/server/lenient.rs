//! Lenient request targets (conventions.md §2.11): EM runs on HTTP.sys, which takes
//! `"`, `<`, `>`, `{`, `}`, `|`, `\`, `^`, `` ` `` and bytes ≥ 0x80 raw in the request
//! target, and clients rely on it (`filter=Name=="ABC Company"` typed into curl).
//! hyper builds an `http::Uri` from the request line and answers an empty `400`
//! before any handler runs when one of those bytes is there, and offers no hook to
//! change that. So the HTTP/1 byte stream is rewritten below hyper: [`Rewriter`]
//! follows the framing of each request (request line, header lines, a
//! `Content-Length` or chunked body) and percent-encodes those bytes in the target
//! of each request line; nothing else is changed. [`Lenient`] applies it to a
//! connection's reads.
//!
//! A request line that cannot be split into method, target and version is replaced
//! by a request for [`MALFORMED_PATH`] with `Connection: close`, which the router
//! answers with a `400` and an EM `Error` body. An HTTP/2 connection (its preface
//! `PRI * HTTP/2.0`), an upgrade, and framing that cannot be followed switch the
//! rewriter off for the rest of the connection: hyper then sees the bytes as sent.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The path a malformed request line is turned into.
pub const MALFORMED_PATH: &str = "/_malformed-request-line";

/// The longest line followed; a longer one switches the rewriter off (hyper then
/// refuses the head as too large).
const MAX_LINE: usize = 64 * 1024;

/// Whether a byte of a request target is sent percent-encoded to hyper.
fn needs_encoding(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'<' | b'>' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`'
    ) || b >= 0x80
}

/// Where in the HTTP/1 stream the rewriter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request line.
    RequestLine,
    /// Collecting header lines of a request head.
    Head,
    /// Inside a `Content-Length` body: bytes left.
    Fixed(u64),
    /// Collecting a chunk-size line.
    ChunkSize,
    /// Inside a chunk: bytes left.
    ChunkData(u64),
    /// The line end after a chunk's data.
    ChunkEnd,
    /// Collecting trailer lines after the last chunk.
    Trailers,
    /// Bytes go through unchanged for the rest of the connection.
    Passthrough,
    /// Bytes are dropped for the rest of the connection (after a request line that
    /// is not HTTP at all).
    Discard,
}

/// What the head of the current request says about its body.
#[derive(Debug, Default, Clone, Copy)]
struct Framing {
    content_length: Option<u64>,
    chunked: bool,
    upgrade: bool,
    invalid: bool,
}

/// The HTTP/1 request-stream rewriter of one connection.
#[derive(Debug)]
pub struct Rewriter {
    state: State,
    line: Vec<u8>,
    framing: Framing,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter {
            state: State::RequestLine,
            line: Vec::new(),
            framing: Framing::default(),
        }
    }
}

impl Rewriter {
    /// Whether every further byte goes through unchanged.
    pub fn is_passthrough(&self) -> bool {
        self.state == State::Passthrough
    }

    /// Rewrites `input`, appending what hyper should read to `out`. Bytes of an
    /// unfinished line are kept until the line ends.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match self.state {
                State::Passthrough => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Discard => return,
                State::Fixed(left) | State::ChunkData(left) => {
                    let n = (left.min(input.len() as u64)) as usize;
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    let left = left - n as u64;
                    if left == 0 {
                        self.state = match self.state {
                            State::Fixed(_) => State::RequestLine,
                            _ => State::ChunkEnd,
                        };
                    } else {
                        self.state = match self.state {
                            State::Fixed(_) => State::Fixed(left),
                            _ => State::ChunkData(left),
                        };
                    }
                }
                _ => {
                    let (taken, complete) = match input.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (input.len(), false),
                    };
                    self.line.extend_from_slice(&input[..taken]);
                    input = &input[taken..];
                    if complete {
                        let line = std::mem::take(&mut self.line);
                        self.end_of_line(&line, out);
                    } else if self.state == State::RequestLine && !self.method_so_far_is_token() {
                        self.malformed(out, true);
                    } else if self.line.len() > MAX_LINE {
                        out.append(&mut self.line);
                        self.state = State::Passthrough;
                    }
                }
            }
        }
    }

    /// Bytes of an unfinished line, handed over when the connection ends.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !matches!(self.state, State::Discard) {
            out.append(&mut self.line);
        }
        self.line.clear();
    }

    /// Whether the bytes of the request line so far can still start a method.
    fn method_so_far_is_token(&self) -> bool {
        let method_part = match self.line.iter().position(|&b| b == b' ') {
            Some(i) => &self.line[..i],
            None => &self.line[..],
        };
        // Empty lines before a request are allowed (RFC 9112 §2.2).
        let method_part = trim_leading_line_ends(method_part);
        method_part.iter().all(|&b| is_token(b))
    }

    fn end_of_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if line.len() > MAX_LINE {
            out.extend_from_slice(line);
            self.state = State::Passthrough;
            return;
        }
        match self.state {
            State::RequestLine => self.request_line(line, out),
            State::Head => self.header_line(line, out),
            State::ChunkSize => {
                out.extend_from_slice(line);
                let text = content(line);
                let size = text.split(|&b| b == b';').next().unwrap_or(&[]);
                match parse_hex(size) {
                    Some(0) => self.state = State::Trailers,
                    Some(n) => self.state = State::ChunkData(n),
                    None => self.state = State::Passthrough,
                }
            }
            State::ChunkEnd => {
                out.extend_from_slice(line);
                self.state = State::ChunkSize;
            }
            State::Trailers => {
                out.extend_from_slice(line);
                if content(line).is_empty() {
                    self.state = State::RequestLine;
                }
            }
            _ => out.extend_from_slice(line),
        }
    }

    fn request_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let text = content(line);
        if text.is_empty() {
            out.extend_from_slice(line);
            return;
        }
        let Some((method, target, version)) = split_request_line(text) else {
            let method = text.split(|&b| b == b' ').next().unwrap_or(&[]);
            let garbage = !method.iter().all(|&b| is_token(b));
            self.malformed(out, garbage);
            return;
        };
        self.framing = Framing::default();
        if method == b"PRI" && target == b"*" {
            // The HTTP/2 connection preface.
            out.extend_from_slice(line);
            self.state = State::Passthrough;
            return;
        }
        out.extend_from_slice(method);
        out.push(b' ');
        for &b in target {
            if needs_encoding(b) {
                out.extend_from_slice(format!("%{b:02X}").as_bytes());
            } else {
                out.push(b);
            }
        }
        out.push(b' ');
        out.extend_from_slice(version);
        out.extend_from_slice(&line[text.len()..]);
        self.framing.upgrade = method == b"CONNECT";
        self.state = State::Head;
    }

    /// Replaces a malformed request line by a request the router answers with 400.
    /// `garbage`: the line is not HTTP at all, so the rest of the connection is too.
    fn malformed(&mut self, out: &mut Vec<u8>, garbage: bool) {
        self.line.clear();
        out.extend_from_slice(
            format!("GET {MALFORMED_PATH} HTTP/1.1\r\nConnection: close\r\n").as_bytes(),
        );
        if garbage {
            out.extend_from_slice(b"\r\n");
            self.state = State::Discard;
        } else {
            self.framing = Framing::default();
            self.state = State::Head;
        }
    }

    fn header_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(line);
        let text = content(line);
        if text.is_empty() {
            self.state = self.body_state();
            return;
        }
        let Some(colon) = text.iter().position(|&b| b == b':') else {
            return;
        };
        let name = &text[..colon];
        let value = trim(&text[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            match std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                Some(n) if self.framing.content_length.is_none_or(|m| m == n) => {
                    self.framing.content_length = Some(n);
                }
                _ => self.framing.invalid = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().map_or(&[][..], trim);
            self.framing.chunked = last.eq_ignore_ascii_case(b"chunked");
            if !self.framing.chunked {
                self.framing.invalid = true;
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.framing.upgrade = true;
        }
    }

    /// Where the stream goes after a request head.
    fn body_state(&self) -> State {
        let f = self.framing;
        if f.invalid || f.upgrade {
            State::Passthrough
        } else if f.chunked {
            State::ChunkSize
        } else {
            match f.content_length {
                Some(n) if n > 0 => State::Fixed(n),
                _ => State::RequestLine,
            }
        }
    }
}

/// A line without its line end (`\r\n` or `\n`).
fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &v[start..end]
}

fn trim_leading_line_ends(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(v.len());
    &v[start..]
}

/// RFC 9110 `tchar`.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `method SP target SP HTTP/x.y`, with a target of visible bytes (raw ones
/// included) and no control bytes.
fn split_request_line(text: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut parts = text.splitn(3, |&b| b == b' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    let valid = !method.is_empty()
        && method.iter().all(|&b| is_token(b))
        && !target.is_empty()
        && target.iter().all(|&b| b > 0x20 && b != 0x7f)
        && version.len() == 8
        && version.starts_with(b"HTTP/")
        && version[5].is_ascii_digit()
        && version[6] == b'.'
        && version[7].is_ascii_digit();
    valid.then_some((method, target, version))
}

fn parse_hex(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || v.len() > 15 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(v).ok()?, 16).ok()
}

/// A connection whose reads go through a [`Rewriter`]; writes are untouched.
pub struct Lenient<T> {
    inner: T,
    rewriter: Rewriter,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<T> Lenient<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Lenient<T> {
        Lenient {
            inner,
            rewriter: Rewriter::default(),
            out: Vec::new(),
            out_pos: 0,
            eof: false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Lenient<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if this.rewriter.is_passthrough() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut scratch = [0u8; 8192];
            let mut read = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
                this.rewriter.finish(&mut this.out);
            } else {
                this.rewriter.feed(read.filled(), &mut this.out);
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Lenient<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rewrite_in_pieces(input: &[u8], piece: usize) -> Vec<u8> {
        let mut r = Rewriter::default();
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            r.feed(chunk, &mut out);
        }
        r.finish(&mut out);
        out
    }

    fn rewrite(input: &[u8]) -> Vec<u8> {
        rewrite_in_pieces(input, input.len())
    }

    #[test]
    fn raw_bytes_in_the_target_are_percent_encoded() {
        let got = rewrite(
            b"GET /api/query?filter=Name==\"A%20B\"&x=<>{}|\\^`\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
        );
        let want: &[u8] =
            b"GET /api/query?filter=Name==%22A%20B%22&x=%3C%3E%7B%7D%7C%5C%5E%60%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(got, want);
    }

    #[test]
    fn headers_and_bodies_are_left_alone() {
        let input = b"POST /a?<x> HTTP/1.1\r\nContent-Length: 5\r\nX: \"<>\"\r\n\r\n<a/>\nGET /b?\" HTTP/1.1\r\n\r\n";
        let want = b"POST /a?%3Cx%3E HTTP/1.1\r\nContent-Length: 5\r\nX: \"<>\"\r\n\r\n<a/>\nGET /b?%22 HTTP/1.1\r\n\r\n";
        for piece in 1..input.len() {
            assert_eq!(
                rewrite_in_pieces(input, piece),
                want.to_vec(),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn chunked_bodies_are_followed() {
        let input = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nGET \r\n3;x=y\r\n/<>\r\n0\r\nT: v\r\n\r\nGET /<> HTTP/1.1\r\n\r\n";
        let want = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nGET \r\n3;x=y\r\n/<>\r\n0\r\nT: v\r\n\r\nGET /%3C%3E HTTP/1.1\r\n\r\n";
        for piece in 1..input.len() {
            assert_eq!(
                rewrite_in_pieces(input, piece),
                want.to_vec(),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn http2_prefaces_pass_through() {
        let mut input = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        input.extend_from_slice(&[0x80, b'<', b'\n', 0xff, b' ', b'"']);
        assert_eq!(rewrite(&input), input);
    }

    #[test]
    fn a_line_with_a_raw_space_becomes_the_malformed_request() {
        let got = rewrite(b"GET /api/q?f=A B HTTP/1.1\r\nAccept: application/json\r\n\r\n");
        let want = format!(
            "GET {MALFORMED_PATH} HTTP/1.1\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
        );
        assert_eq!(got, want.as_bytes());
    }

    #[test]
    fn bytes_that_are_not_http_end_the_stream_after_one_request() {
        let got = rewrite(&[0x16, 0x03, 0x01, 0x02, 0x00, b'\n', b'x']);
        let want = format!("GET {MALFORMED_PATH} HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!(got, want.as_bytes());
    }

    #[test]
    fn upgrades_and_odd_framing_switch_the_rewriter_off() {
        let input = b"GET / HTTP/1.1\r\nUpgrade: x\r\n\r\n<raw>\r\n";
        assert_eq!(rewrite(input), input.to_vec());
        let input = b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\nGET /<> HTTP/1.1\r\n";
        assert_eq!(rewrite(input), input.to_vec());
    }

    proptest! {
        /// A request stream without raw bytes in its targets comes out unchanged,
        /// however it is cut into reads.
        #[test]
        fn valid_streams_come_out_unchanged(
            requests in proptest::collection::vec(
                ("[A-Z]{3,6}", "/[a-zA-Z0-9/?&=%._~-]{0,40}", proptest::collection::vec(any::<u8>(), 0..40), any::<bool>()),
                1..5,
            ),
            piece in 1usize..64,
        ) {
            let mut input = Vec::new();
            for (method, target, body, chunked) in &requests {
                input.extend_from_slice(format!("{method} {target} HTTP/1.1\r\nHost: h\r\n").as_bytes());
                if *chunked {
                    input.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    if !body.is_empty() {
                        input.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                        input.extend_from_slice(body);
                        input.extend_from_slice(b"\r\n");
                    }
                    input.extend_from_slice(b"0\r\n\r\n");
                } else {
                    input.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                    input.extend_from_slice(body);
                }
            }
            prop_assert_eq!(rewrite_in_pieces(&input, piece), input);
        }

        /// Whatever the bytes, the rewriter neither panics nor loses the bytes of
        /// a stream it passes through.
        #[test]
        fn any_bytes_are_handled(input in proptest::collection::vec(any::<u8>(), 0..512), piece in 1usize..64) {
            let _ = rewrite_in_pieces(&input, piece);
        }
    }
}
