//! The `entman` binary: a thin layer over [`entman_cli`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
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
