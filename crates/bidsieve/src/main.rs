//! `bidsieve`: the one binary. Wiring only; see `cli` for the commands.

mod cli;
mod config;
mod demo;
mod duration;
mod run;
mod telemetry;
mod uid2_cmd;
mod user_cmd;

/// mimalloc rather than glibc's allocator: the request path's few allocations (hyper's
/// per-request header map and body channel, metric sample blocks) cost about a third as much,
/// and freeing them does not consolidate (BENCHMARKS.md, "What each optimisation bought").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
