//! The `jianghai` binary: parses the command line and hands over to [`cmd::run`].

mod cli;
mod cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cmd::run(args)
}
