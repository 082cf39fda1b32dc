//! Request targets too long for the HTTP parser. actix refuses a request line over 64 KiB
//! with a bare 400 before any middleware runs; this layer, between the socket and actix,
//! swaps such a line for a short one marked with `LONG_LINE_HEADER`, so the service answers
//! it like any other over-long target: a 414 problem with its request id and usual headers.
//!
//! To know where a request line starts it follows the HTTP/1 framing of what the client
//! sends (heads, `Content-Length` and chunked bodies); only request lines are ever changed.
//! Where framing cannot be followed (an upgrade, CONNECT, a head the parser will refuse
//! anyway) it steps aside and passes every later byte unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::api::limits::{LONG_LINE_HEADER, MAX_URI_LENGTH};

/// The longest request line passed on unchanged: a target at the service's own limit with
/// room for any method and version, so lines near the limit are judged by the service.
pub const LONGEST_LINE: usize = MAX_URI_LENGTH + 1024;

/// The longest path kept in a replaced line (the rest of the line is dropped).
const LONGEST_KEPT_PATH: usize = 1024;

/// How much of a header or chunk-size line is kept to read it; longer lines are passed on
/// unread (no header this layer needs is that long).
const LONGEST_READ_LINE: usize = 1024;

/// What to do with the bytes at the front of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Pass this many bytes on unchanged.
    Pass(usize),
    /// The input is the unfinished start of a request line: keep it until more arrives.
    Hold,
    /// Drop this many bytes (the middle of an over-long request line).
    Drop(usize),
    /// Replace this many bytes (the end of an over-long request line) with `with`.
    Replace { consumed: usize, with: Vec<u8> },
}

/// Where the reader stands in the client's byte stream.
#[derive(Debug)]
enum State {
    /// At the start of a request line (held until its end is seen).
    RequestLine,
    /// Dropping an over-long request line up to its end.
    Dropping(LongLine),
    /// In the header lines of a request.
    Headers(Head),
    /// In a body of known length.
    Body { remaining: u64 },
    /// At a chunk's size line.
    ChunkSize(Line),
    /// In a chunk's data.
    ChunkData { remaining: u64 },
    /// At the line break after a chunk's data.
    ChunkEnd(Line),
    /// In the trailer lines after the last chunk.
    Trailers(Line),
    /// Framing no longer followed: everything passes.
    Aside,
}

/// An over-long request line being dropped: what is kept of it to write its replacement.
#[derive(Debug)]
struct LongLine {
    method: String,
    path: String,
    length: usize,
    /// The last bytes seen, where the HTTP version is.
    tail: Vec<u8>,
}

/// The header facts that decide how the body is framed.
#[derive(Debug, Default)]
struct Head {
    line: Line,
    content_length: Option<u64>,
    chunked: bool,
    /// Framing this layer does not follow (upgrade, CONNECT, a head the parser refuses).
    aside: bool,
}

/// A line being read: its first `LONGEST_READ_LINE` bytes, and whether more were passed.
#[derive(Debug, Default)]
struct Line {
    kept: Vec<u8>,
    cut: bool,
}

impl Line {
    /// Takes `input` up to and including its first line break. Returns how many bytes
    /// were taken and whether the line ended.
    fn take(&mut self, input: &[u8]) -> (usize, bool) {
        let (taken, ended) = match input.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (input.len(), false),
        };
        let room = LONGEST_READ_LINE.saturating_sub(self.kept.len());
        let part = &input[..taken];
        self.kept.extend_from_slice(&part[..part.len().min(room)]);
        self.cut |= part.len() > room;
        (taken, ended)
    }

    /// The finished line without its line break, or `None` when it was too long to keep.
    fn finish(&mut self) -> Option<Vec<u8>> {
        let mut line = std::mem::take(&mut self.kept);
        let cut = std::mem::take(&mut self.cut);
        if cut {
            return None;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Some(line)
    }
}

/// Follows the requests in one connection's incoming bytes.
#[derive(Debug)]
pub struct RequestLines {
    state: State,
    longest_line: usize,
}

impl Default for RequestLines {
    fn default() -> Self {
        Self::new(LONGEST_LINE)
    }
}

impl RequestLines {
    /// A reader that replaces request lines longer than `longest_line` bytes.
    pub fn new(longest_line: usize) -> Self {
        Self {
            state: State::RequestLine,
            longest_line,
        }
    }

    /// What to do with the front of `input`, which is never empty. After `Hold`, the same
    /// bytes come again with more behind them.
    pub fn step(&mut self, input: &[u8]) -> Step {
        match &mut self.state {
            State::RequestLine => self.request_line(input),
            State::Dropping(long) => {
                let Some(end) = input.iter().position(|&b| b == b'\n') else {
                    long.length += input.len();
                    keep_tail(&mut long.tail, input);
                    return Step::Drop(input.len());
                };
                long.length += end + 1;
                keep_tail(&mut long.tail, &input[..end]);
                let with = replacement(long);
                self.state = State::Headers(Head::default());
                Step::Replace {
                    consumed: end + 1,
                    with,
                }
            }
            State::Headers(head) => {
                let (taken, ended) = head.line.take(input);
                if ended {
                    self.end_header_line();
                }
                Step::Pass(taken)
            }
            State::Body { remaining } | State::ChunkData { remaining } => {
                let taken = input
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= taken as u64;
                if *remaining == 0 {
                    let body_ended = matches!(self.state, State::Body { .. });
                    self.state = if body_ended {
                        State::RequestLine
                    } else {
                        State::ChunkEnd(Line::default())
                    };
                }
                Step::Pass(taken)
            }
            State::ChunkSize(line) => {
                let (taken, ended) = line.take(input);
                if ended {
                    self.state = match line.finish().as_deref().and_then(chunk_size) {
                        Some(0) => State::Trailers(Line::default()),
                        Some(size) => State::ChunkData { remaining: size },
                        None => State::Aside,
                    };
                }
                Step::Pass(taken)
            }
            State::ChunkEnd(line) => {
                let (taken, ended) = line.take(input);
                if ended {
                    self.state = match line.finish() {
                        Some(rest) if rest.is_empty() => State::ChunkSize(Line::default()),
                        _ => State::Aside,
                    };
                }
                Step::Pass(taken)
            }
            State::Trailers(line) => {
                let (taken, ended) = line.take(input);
                if ended && line.finish().is_some_and(|rest| rest.is_empty()) {
                    self.state = State::RequestLine;
                }
                Step::Pass(taken)
            }
            State::Aside => Step::Pass(input.len()),
        }
    }

    fn request_line(&mut self, input: &[u8]) -> Step {
        let end = input.iter().position(|&b| b == b'\n');
        let line_length = end.map_or(input.len(), |end| end + 1);
        if line_length > self.longest_line {
            let text = String::from_utf8_lossy(&input[..line_length.min(self.longest_line)]);
            let mut long = LongLine {
                method: kept_method(&text),
                path: kept_path(&text),
                length: 0,
                tail: Vec::new(),
            };
            return match end {
                Some(end) => {
                    long.length = end + 1;
                    keep_tail(&mut long.tail, &input[..end]);
                    self.state = State::Headers(Head::default());
                    Step::Replace {
                        consumed: end + 1,
                        with: replacement(&long),
                    }
                }
                None => {
                    long.length = input.len();
                    keep_tail(&mut long.tail, input);
                    self.state = State::Dropping(long);
                    Step::Drop(input.len())
                }
            };
        }
        let Some(end) = end else {
            return Step::Hold;
        };
        let line = &input[..end];
        // Empty lines before a request are allowed (RFC 9112, 2.2) and stay before it.
        if line.iter().all(|&b| b == b'\r') {
            return Step::Pass(end + 1);
        }
        let mut head = Head::default();
        // CONNECT's tunnel and anything not shaped like `METHOD target HTTP/1.x` are not
        // followed: the parser refuses the latter and closes the connection.
        let version = line.trim_ascii_end();
        head.aside = line.starts_with(b"CONNECT ")
            || !(version.ends_with(b" HTTP/1.1") || version.ends_with(b" HTTP/1.0"));
        self.state = State::Headers(head);
        Step::Pass(end + 1)
    }

    /// A header line has ended: read it, or, at the empty line, start the body.
    fn end_header_line(&mut self) {
        let State::Headers(head) = &mut self.state else {
            return;
        };
        let Some(line) = head.line.finish() else {
            // Too long to read: harmless unless it is one of the headers that frame the
            // body, which are never that long from a client the parser would accept.
            head.aside = true;
            return;
        };
        if line.is_empty() {
            self.state = if head.aside {
                State::Aside
            } else if head.chunked {
                State::ChunkSize(Line::default())
            } else {
                match head.content_length {
                    Some(length) if length > 0 => State::Body { remaining: length },
                    _ => State::RequestLine,
                }
            };
            return;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            head.aside = true;
            return;
        };
        let name = line[..colon].to_ascii_lowercase();
        let value = std::str::from_utf8(&line[colon + 1..]).map(str::trim);
        match (name.as_slice(), value) {
            (b"content-length", Ok(value)) => match (value.parse::<u64>(), head.content_length) {
                (Ok(length), None) => head.content_length = Some(length),
                (Ok(length), Some(before)) if length == before => {}
                _ => head.aside = true,
            },
            (b"transfer-encoding", Ok(value)) => {
                let last = value.rsplit(',').next().unwrap_or_default().trim();
                if last.eq_ignore_ascii_case("chunked") {
                    head.chunked = true;
                } else {
                    head.aside = true;
                }
            }
            (b"upgrade", _) => head.aside = true,
            (b"content-length" | b"transfer-encoding", Err(_)) => head.aside = true,
            _ => {}
        }
    }
}

/// The size at the start of a chunk-size line (extensions after `;` are ignored).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    let digits = std::str::from_utf8(digits).ok()?;
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// Keeps the last 16 bytes of a line seen so far (the version is at its end).
fn keep_tail(tail: &mut Vec<u8>, more: &[u8]) {
    tail.extend_from_slice(&more[more.len().saturating_sub(16)..]);
    let excess = tail.len().saturating_sub(16);
    tail.drain(..excess);
}

/// The method of an over-long line, if it looks like one.
fn kept_method(line: &str) -> String {
    let method = line.split(' ').next().unwrap_or_default();
    let token = !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b));
    if token { method } else { "GET" }.to_string()
}

/// The path of an over-long line without its query, when it is short and plain enough to
/// keep (so the access log still shows where the request went); otherwise `/`.
fn kept_path(line: &str) -> String {
    let target = line.split(' ').nth(1).unwrap_or_default();
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let plain = path.starts_with('/')
        && path.len() <= LONGEST_KEPT_PATH
        && path.bytes().all(|b| b.is_ascii_graphic());
    if plain { path } else { "/" }.to_string()
}

/// The short request line and marker header that stand in for an over-long line.
fn replacement(long: &LongLine) -> Vec<u8> {
    let tail = String::from_utf8_lossy(&long.tail);
    let version = if tail.trim_end().ends_with("HTTP/1.0") {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    format!(
        "{} {} {version}\r\n{LONG_LINE_HEADER}: {}\r\n",
        long.method, long.path, long.length
    )
    .into_bytes()
}

/// How much is read from the socket at a time.
const READ_SIZE: usize = 16 * 1024;

/// A client connection whose incoming request lines pass through `RequestLines`; what the
/// service writes goes to the socket untouched.
pub struct LongUriGuard<T> {
    io: T,
    lines: RequestLines,
    /// Where the socket is read into; its first `held` bytes are read and not yet judged (at
    /// most an unfinished request line). Kept at its size so reads need no fresh zeroing.
    inbox: Vec<u8>,
    held: usize,
    /// Judged and waiting for the service to read it, from `outbox_read` on.
    outbox: Vec<u8>,
    outbox_read: usize,
    /// The client has finished sending.
    closed: bool,
}

impl<T> LongUriGuard<T> {
    pub fn new(io: T) -> Self {
        Self {
            io,
            lines: RequestLines::default(),
            inbox: Vec::new(),
            held: 0,
            outbox: Vec::new(),
            outbox_read: 0,
            closed: false,
        }
    }

    /// Moves what can be judged from the inbox to the outbox.
    fn judge(&mut self) {
        let mut at = 0;
        while at < self.held {
            match self.lines.step(&self.inbox[at..self.held]) {
                Step::Pass(count) => {
                    self.outbox.extend_from_slice(&self.inbox[at..at + count]);
                    at += count;
                }
                Step::Drop(count) => at += count,
                Step::Replace { consumed, with } => {
                    self.outbox.extend_from_slice(&with);
                    at += consumed;
                }
                Step::Hold => break,
            }
        }
        self.inbox.copy_within(at..self.held, 0);
        self.held -= at;
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LongUriGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.outbox_read < this.outbox.len() {
                let waiting = &this.outbox[this.outbox_read..];
                let count = waiting.len().min(buf.remaining());
                buf.put_slice(&waiting[..count]);
                this.outbox_read += count;
                if this.outbox_read == this.outbox.len() {
                    this.outbox.clear();
                    this.outbox_read = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.closed {
                // An unfinished request line at the end goes on as it is, for the parser
                // to judge; then the end itself.
                if this.held == 0 {
                    return Poll::Ready(Ok(()));
                }
                this.outbox.extend_from_slice(&this.inbox[..this.held]);
                this.held = 0;
                continue;
            }
            if this.inbox.len() < this.held + READ_SIZE {
                this.inbox.resize(this.held + READ_SIZE, 0);
            }
            let mut read = ReadBuf::new(&mut this.inbox[this.held..]);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            let count = read.filled().len();
            if count == 0 {
                this.closed = true;
            } else {
                this.held += count;
                this.judge();
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LongUriGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream as the service would read it, with the input cut into reads at `cuts`.
    fn through(longest_line: usize, input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut lines = RequestLines::new(longest_line);
        let (mut inbox, mut output) = (Vec::new(), Vec::new());
        let mut from = 0;
        for &to in cuts.iter().chain([input.len()].iter()) {
            inbox.extend_from_slice(&input[from..to]);
            from = to;
            let mut at = 0;
            while at < inbox.len() {
                match lines.step(&inbox[at..]) {
                    Step::Pass(count) => {
                        output.extend_from_slice(&inbox[at..at + count]);
                        at += count;
                    }
                    Step::Drop(count) => at += count,
                    Step::Replace { consumed, with } => {
                        output.extend_from_slice(&with);
                        at += consumed;
                    }
                    Step::Hold => break,
                }
            }
            inbox.drain(..at);
        }
        output.extend_from_slice(&inbox);
        output
    }

    /// `through` with every way of cutting the input into two reads, and byte by byte.
    fn every_cut(longest_line: usize, input: &[u8]) -> Vec<u8> {
        let whole = through(longest_line, input, &[]);
        for cut in 1..input.len() {
            assert_eq!(
                through(longest_line, input, &[cut]),
                whole,
                "cut after {cut} bytes"
            );
        }
        let bytes: Vec<usize> = (1..input.len()).collect();
        assert_eq!(through(longest_line, input, &bytes), whole, "byte by byte");
        whole
    }

    const LIMIT: usize = 40;

    #[test]
    fn ordinary_requests_pass_unchanged_however_they_arrive() {
        let long_body_line = "x".repeat(3 * LIMIT);
        let traffic = format!(
            "\r\nGET /a?b=c HTTP/1.1\r\nHost: h\r\n\r\n\
             POST /b HTTP/1.1\r\ncontent-length: {}\r\n\r\n{long_body_line}\
             PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
             {:x};ext=1\r\n{long_body_line}\r\n3\r\nGET\r\n0\r\nTrailer: {long_body_line}\r\n\r\n\
             GET /d HTTP/1.0\r\n\r\n",
            long_body_line.len(),
            long_body_line.len(),
        );
        assert_eq!(every_cut(LIMIT, traffic.as_bytes()), traffic.as_bytes());
    }

    #[test]
    fn an_over_long_line_is_replaced_and_the_next_request_follows() {
        let target = format!("/api/v1/organisations?q={}", "y".repeat(3 * LIMIT));
        let line = format!("GET {target} HTTP/1.0\r\n");
        let traffic = format!("{line}Accept: */*\r\n\r\nGET /health/live HTTP/1.1\r\n\r\n");
        let expected = format!(
            "GET /api/v1/organisations HTTP/1.0\r\n{LONG_LINE_HEADER}: {}\r\n\
             Accept: */*\r\n\r\nGET /health/live HTTP/1.1\r\n\r\n",
            line.len()
        );
        assert_eq!(
            String::from_utf8(every_cut(LIMIT, traffic.as_bytes())).unwrap(),
            expected
        );
    }

    #[test]
    fn a_body_is_never_taken_for_a_request_line() {
        let body = format!("GET /{} HTTP/1.1\r\n", "z".repeat(3 * LIMIT));
        let traffic = format!(
            "POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(every_cut(LIMIT, traffic.as_bytes()), traffic.as_bytes());
    }

    #[test]
    fn a_strange_line_keeps_neither_method_nor_path() {
        let traffic = format!("{} {}\r\n\r\n", "M".repeat(50), "p".repeat(2 * LIMIT));
        let output = String::from_utf8(every_cut(LIMIT, traffic.as_bytes())).unwrap();
        assert!(output.starts_with("GET / HTTP/1.1\r\n"), "{output}");
    }

    /// A socket that delivers `chunks` one read at a time, then the end.
    struct Chunks(Vec<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if !self.0.is_empty() {
                let chunk = self.0.remove(0);
                buf.put_slice(&chunk);
            }
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn the_connection_layer_holds_and_replaces_across_reads() {
        use tokio::io::AsyncReadExt;
        let line = format!("GET /organisations?q={} HTTP/1.1\r\n", "q".repeat(70_000));
        let traffic =
            format!("{line}Host: h\r\n\r\nGET /health/live HTTP/1.1\r\n\r\nGET /unfinished");
        let chunks = traffic.as_bytes().chunks(999).map(<[u8]>::to_vec).collect();
        let mut seen = Vec::new();
        let mut guard = LongUriGuard::new(Chunks(chunks));
        // Small reads, as a busy service makes them.
        let mut buf = [0; 100];
        loop {
            let count = guard.read(&mut buf).await.unwrap();
            if count == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..count]);
        }
        let expected = format!(
            "GET /organisations HTTP/1.1\r\n{LONG_LINE_HEADER}: {}\r\nHost: h\r\n\r\n\
             GET /health/live HTTP/1.1\r\n\r\nGET /unfinished",
            line.len()
        );
        assert_eq!(String::from_utf8(seen).unwrap(), expected);
    }

    #[test]
    fn framing_it_cannot_follow_is_passed_unread() {
        let rest = format!("\r\n{}\r\n", "w".repeat(3 * LIMIT));
        for head in [
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "CONNECT h:1 HTTP/1.1\r\n\r\n",
            "POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let traffic = format!("{head}{rest}");
            assert_eq!(
                every_cut(LIMIT, traffic.as_bytes()),
                traffic.as_bytes(),
                "{head:?}"
            );
        }
    }
}
