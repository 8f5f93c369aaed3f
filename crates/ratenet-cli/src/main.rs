//! `ratenet`: the command-line face of the ratenet library. Thin on purpose:
//! every command parses arguments, calls the library and prints.

mod commands;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("ratenet: internal error{at}: {msg} (please report it)");
    }));
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ratenet: {}", e.message().lines().next().unwrap_or(""));
            ExitCode::from(2)
        }
    }
}
