//! `loupe`: the command line over the same core as the browser explorer. `loupe --help`
//! lists the subcommands (declared in `cli`); errors are one line on stderr and exit status 1.

mod analyses;
mod bench;
mod call;
mod cli;
mod commands;
mod errors;
mod gradients;
mod shared;
mod steering;
mod values;

use clap::FromArgMatches;

fn main() {
    let mut command = cli::command();
    let parsed = command.try_get_matches_from_mut(std::env::args_os()).and_then(|m| cli::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        // --help, help, --version: printed to stdout, status 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => errors::fail(&errors::usage(&e)),
    };
    let Some(subcommand) = cli.command else {
        // No arguments at all: the help, as `loupe --help` prints it.
        let _ = command.print_help();
        return;
    };
    if let Err(e) = subcommand.run() {
        errors::fail(&errors::runtime(&e));
    }
}
