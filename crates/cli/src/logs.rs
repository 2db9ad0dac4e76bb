//! Log output. One line per request is the busiest thing a server on the demo world
//! writes; writing each line with its own system call took a fifth of the time of
//! a cached answer. Request lines (and other informational events) are gathered in
//! a buffer that a background thread writes out every 100 ms or when it holds
//! 64 KiB; warnings, errors and audit events are written at once (after what is
//! buffered, so the order stays), so nothing that matters waits. A SIGKILLed
//! server may lose the request lines of its last 100 ms. Colours only on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;

/// How often buffered lines are written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Buffered bytes that make a writer write at once.
const FLUSH_AT: usize = 64 * 1024;

static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

fn buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::with_capacity(FLUSH_AT * 2)));
        let flushed = buffer.clone();
        let _ = std::thread::Builder::new()
            .name("entman-log".into())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_EVERY);
                write_out(&mut lock(&flushed), &[]);
            });
        buffer
    })
}

fn lock(buffer: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    buffer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes what is buffered, then `more`, to stdout (errors writing logs are dropped).
fn write_out(buffered: &mut Vec<u8>, more: &[u8]) {
    if buffered.is_empty() && more.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(buffered);
    let _ = out.write_all(more);
    let _ = out.flush();
    buffered.clear();
}

/// Writes out every buffered line (at shutdown).
pub(crate) fn flush() {
    if let Some(buffer) = BUFFER.get() {
        write_out(&mut lock(buffer), &[]);
    }
}

/// The writer of one event.
pub(crate) struct EventWriter {
    urgent: bool,
}

impl Write for EventWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffered = lock(buffer());
        if self.urgent {
            write_out(&mut buffered, bytes);
        } else {
            buffered.extend_from_slice(bytes);
            if buffered.len() >= FLUSH_AT {
                write_out(&mut buffered, &[]);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `MakeWriter` of the server's log.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogOutput;

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        EventWriter { urgent: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> EventWriter {
        let urgent =
            *meta.level() <= tracing::Level::WARN || meta.target().starts_with("entman::audit");
        EventWriter { urgent }
    }
}

/// Whether log lines get colours: only when stdout is a terminal.
pub(crate) fn ansi() -> bool {
    std::io::stdout().is_terminal()
}
