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
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version, and a bare `ratenet` (the help is the answer).
        Err(e) if !e.use_stderr() || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        Err(e) => {
            // One line, like every other error; `--help` has the rest.
            let text = e.render().to_string();
            let head: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let msg = head.join(" ");
            eprintln!("ratenet: {} (see ratenet --help)", msg.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ratenet: {}", e.message().lines().next().unwrap_or(""));
            ExitCode::from(2)
        }
    }
}
