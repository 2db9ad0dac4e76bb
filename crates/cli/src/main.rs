//! The `entman` binary: a thin layer over [`entman_cli`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    keep_large_allocations_out_of_the_heap();
    let cli = entman_cli::Cli::parse();
    match entman_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole cause chain on one line.
            eprintln!("entman: {e:#}");
            ExitCode::FAILURE
        }
    }
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
