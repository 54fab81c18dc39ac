//! The `jianghai` binary: parses the command line and hands over to [`cmd::run`].

mod cli;
mod cmd;

use clap::Parser;

/// mimalloc rather than glibc's malloc: ingestion allocates and frees per reading from several
/// threads, and glibc's consolidation of freed chunks was a sixth of its profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cmd::run(args)
}
