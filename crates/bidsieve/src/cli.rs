//! The command line (SPEC §7.1).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};

/// Exit code for invalid configuration, before anything is bound (as linkerd's proxy does).
const EXIT_CONFIG: u8 = 64;

/// bidsieve: a bidstream filtering proxy for OpenRTB.
#[derive(Debug, Parser)]
#[command(name = "bidsieve", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Admin API and proxy in one process (the embedded default).
    Serve {
        #[command(flatten)]
        common: CommonArgs,
        /// Seed a demo operator, customer, suppliers and streams, run a demo bidder on
        /// loopback, and print curl lines to try.
        #[arg(long)]
        demo: bool,
    },
    /// The data plane only, following the store's changes.
    Proxy {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The control plane only.
    Admin {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Applies pending store migrations and exits.
    Migrate {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Manages admin API users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// UID2 tools.
    Uid2 {
        #[command(subcommand)]
        command: Uid2Command,
    },
}

#[derive(Debug, Subcommand)]
enum Uid2Command {
    /// Decrypts advertising tokens with a key file; prints one JSON object a line.
    Decrypt(crate::uid2_cmd::DecryptArgs),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Creates a user; the password is read from standard input.
    Add {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        user: crate::user_cmd::AddArgs,
    },
}

/// Flags every command that opens the store takes.
#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    /// The TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Overrides `proxy.listen`.
    #[arg(long, value_name = "ADDR")]
    proxy_listen: Option<String>,
    /// Overrides `admin.listen`.
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<String>,
    /// Overrides `metrics.listen`.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Overrides `store.url`.
    #[arg(long, value_name = "URL")]
    store_url: Option<String>,
}

impl CommonArgs {
    fn load(&self) -> Result<Config, String> {
        let mut overrides = Overrides::default();
        for (key, value) in [
            ("proxy.listen", &self.proxy_listen),
            ("admin.listen", &self.admin_listen),
            ("metrics.listen", &self.metrics_listen),
            ("store.url", &self.store_url),
        ] {
            if let Some(value) = value {
                overrides.values.push((key.to_owned(), value.clone()));
            }
        }
        Config::load(self.config.as_deref(), &overrides)
    }
}

/// Parses the command line, runs the command, and maps the result to an exit code.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let (common, mode) = match cli.command {
        Command::Uid2 {
            command: Uid2Command::Decrypt(args),
        } => {
            return match crate::uid2_cmd::run(args, &mut std::io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    #[allow(clippy::print_stderr)] // a command-line tool's error
                    {
                        eprintln!("bidsieve: {error:#}");
                    }
                    ExitCode::FAILURE
                }
            };
        }
        Command::Serve { common, demo } => (common, crate::run::Mode::Serve { demo }),
        Command::Proxy { common } => (common, crate::run::Mode::Proxy),
        Command::Admin { common } => (common, crate::run::Mode::Admin),
        Command::Migrate { common } => (common, crate::run::Mode::Migrate),
        Command::User {
            command: UserCommand::Add { common, user },
        } => (common, crate::run::Mode::UserAdd(user)),
    };
    let config = match common.load() {
        Ok(config) => config,
        Err(problems) => {
            #[allow(clippy::print_stderr)] // before logging exists; one line per problem
            for line in problems.lines() {
                eprintln!("bidsieve: {line}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    crate::telemetry::init(&config.log);
    match crate::run::run(config, mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            #[allow(clippy::print_stderr)] // the final word, also when logs go elsewhere
            {
                eprintln!("bidsieve: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}
