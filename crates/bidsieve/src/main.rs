//! `bidsieve`: the one binary. Wiring only; see `cli` for the commands.

mod cli;
mod config;
mod demo;
mod duration;
mod run;
mod telemetry;
mod uid2_cmd;
mod user_cmd;

fn main() -> std::process::ExitCode {
    cli::main()
}
