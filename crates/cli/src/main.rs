//! The `entman` binary: a thin layer over [`entman_cli`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    keep_large_allocations_out_of_the_heap();
    let cli = entman_cli::Cli::parse();
    match entman_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("entman: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line. A cause whose text the line already
/// holds (an error that prints its source in its own message) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Password hashing (argon2id, 19 MiB per hash) would otherwise grow the resident
/// size for good: glibc raises its mmap threshold after the first large block is
/// freed, so later hashes come from heaps that are never given back. A fixed
/// threshold keeps every block of 1 MiB or more in its own mapping, returned to the
/// system when freed, so the server on the demo world stays small.
fn keep_large_allocations_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator parameter; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        // Two heaps rather than one per thread: what the query index's load frees
        // on the blocking threads is reused instead of held in idle heaps.
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    /// An error that prints its source in its own message, as `StoreError` does.
    #[derive(Debug)]
    struct Wrapping(std::io::Error);

    impl std::fmt::Display for Wrapping {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database error: {}", self.0)
        }
    }

    impl std::error::Error for Wrapping {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_printed_once() {
        let io = std::io::Error::other("disk full");
        let e = anyhow::Error::new(Wrapping(io)).context("cannot open the database");
        assert_eq!(
            one_line(&e),
            "cannot open the database: database error: disk full"
        );
    }
}
