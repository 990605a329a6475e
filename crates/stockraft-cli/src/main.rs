//! `stockctl`: the operator and scripting CLI for a stockraft cluster. Every Inventory, Catalog
//! and Cluster call; tables for people, `--output json` for scripts.
//!
//! Exit codes: 0 done; 2 usage error; 3 the cluster refused the request (out of stock, not
//! found, invalid argument, ...); 4 the cluster could not be reached or had no leader in time;
//! 5 a node checked (`endpoint health`, `endpoint status`, `cluster status`) is unhealthy or
//! unreachable, or a learner added did not catch up; 1 anything else.

mod advice;
mod backup;
mod bulk;
mod certs;
mod commands;
mod endpoints;
mod output;
mod raffle;
mod risk_rules;
mod when;

/// Why a command failed, beyond the client's own errors.
#[derive(Debug)]
pub enum Failure {
    /// A call failed (see [`Error`]).
    Client(Error),
    /// The command ran, and found a node unhealthy or unreachable (exit 5).
    Unhealthy(String),
    /// No node answered a question the command needed answered (exit 4).
    Unreachable(String),
    /// A file given is not what it must be: a damaged backup (exit 1).
    Invalid(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Client(error)
    }
}

use clap::Parser;
use commands::Command;
use output::Format;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use stockraft_client::{Client, Error, Options, Tls};

/// The token (from --token-file or STOCKCTL_TOKEN) and TLS settings.
fn credentials(cli: &Cli) -> Result<(Option<String>, Option<Tls>), String> {
    let token = match &cli.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("--token-file {}: {e}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("STOCKCTL_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
    };
    let tls = match (&cli.ca, &cli.cert, &cli.key) {
        (Some(ca), cert, key) => {
            let identity = cert.as_deref().zip(key.as_deref());
            Some(Tls::from_files(ca, identity).map_err(|e| e.to_string())?)
        }
        (None, None, None) => None,
        (None, _, _) => return Err("--cert and --key need --ca (the CA that signed the nodes)".into()),
    };
    Ok((token, tls))
}

#[derive(Debug, Parser)]
#[command(name = "stockctl", version, about = "Operate and script a stockraft cluster.")]
struct Cli {
    /// Nodes to try, in order (any node serves every call; followers forward to the leader).
    #[arg(
        long,
        short,
        global = true,
        value_delimiter = ',',
        env = "STOCKCTL_ENDPOINTS",
        default_value = "127.0.0.1:7001"
    )]
    endpoints: Vec<String>,
    /// table for people, json for scripts (protobuf's JSON mapping).
    #[arg(long, short, global = true, value_enum, default_value = "table")]
    output: Format,
    /// A file holding a bearer token for clusters with [auth] on. (Or set STOCKCTL_TOKEN. There is
    /// no flag for the token itself: it would end up in shell history and `ps`.)
    #[arg(long, global = true, env = "STOCKCTL_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The CA certificate (PEM) the nodes' certificates are signed by: connect with TLS.
    #[arg(long, global = true, env = "STOCKCTL_CA", value_name = "FILE")]
    ca: Option<PathBuf>,
    /// This client's certificate (PEM), for nodes that require one (with --key).
    #[arg(long, global = true, env = "STOCKCTL_CERT", value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// This client's private key (PEM).
    #[arg(long, global = true, env = "STOCKCTL_KEY", value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Give up after this many seconds, retries included.
    #[arg(long, global = true, default_value_t = 15.0)]
    timeout: f64,
    #[command(subcommand)]
    command: Command,
}

const EXIT_REJECTED: u8 = 3;
const EXIT_UNREACHABLE: u8 = 4;
const EXIT_UNHEALTHY: u8 = 5;
const EXIT_OUTCOME_UNKNOWN: u8 = 6;

/// `completion` and `man`: generated from the flags' definitions, no cluster involved.
fn generate(command: &Command) -> Option<Result<(), String>> {
    use clap::CommandFactory;
    match command {
        Command::Completion { shell } => {
            // Into memory first: `stockctl completion bash | head` must not panic on a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "stockctl", &mut script);
            output::emit(String::from_utf8_lossy(&script).trim_end());
            Some(Ok(()))
        }
        Command::Man { dir } => Some(write_man_pages(dir)),
        _ => None,
    }
}

/// One man page per command and subcommand, named as git's are (`stockctl-member-remove.1`).
fn write_man_pages(dir: &std::path::Path) -> Result<(), String> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    fn write(command: clap::Command, name: String, dir: &std::path::Path, written: &mut usize) -> Result<(), String> {
        let command = command.name(Box::leak(name.clone().into_boxed_str()) as &str);
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page).map_err(|e| e.to_string())?;
        std::fs::write(&path, page).map_err(|e| format!("{}: {e}", path.display()))?;
        *written += 1;
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            write(sub.clone(), format!("{name}-{}", sub.get_name()), dir, written)?;
        }
        Ok(())
    }
    let mut written = 0;
    let mut command = Cli::command();
    command.build();
    write(command, "stockctl".into(), dir, &mut written)?;
    eprintln!("wrote {written} man pages into {}", dir.display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(generated) = generate(&cli.command) {
        return match generated {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("stockctl: {message}");
                ExitCode::FAILURE
            }
        };
    }
    if !(cli.timeout > 0.0 && cli.timeout <= 3600.0) {
        eprintln!("stockctl: --timeout must be between 0 and 3600 seconds");
        return ExitCode::from(2);
    }
    let mut options = Options::new(cli.endpoints.iter().map(|e| e.trim()).filter(|e| !e.is_empty()));
    options.deadline = Duration::from_secs_f64(cli.timeout);
    options.attempt_timeout = options.attempt_timeout.min(options.deadline);
    match credentials(&cli) {
        Ok((token, tls)) => {
            options.token = token;
            options.tls = tls;
        }
        Err(message) => {
            eprintln!("stockctl: {message}");
            return ExitCode::from(2);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let result = runtime.block_on(async {
        let client = Client::new(options.clone())?;
        commands::run(&client, cli.output, cli.command).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Unhealthy(message)) => {
            eprintln!("stockctl: {message}");
            ExitCode::from(EXIT_UNHEALTHY)
        }
        Err(Failure::Unreachable(message)) => {
            eprintln!("stockctl: {message}");
            ExitCode::from(EXIT_UNREACHABLE)
        }
        Err(Failure::Invalid(message)) => {
            eprintln!("stockctl: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Client(Error::Rejected(status))) => {
            let reason = match stockraft_client::reason(&status) {
                stockraft_client::v1::Reason::Unspecified => format!("{:?}", status.code()),
                reason => stockraft_client::reason_name(reason).to_string(),
            };
            let detail = stockraft_client::error_detail(&status).unwrap_or_default();
            let when = match (detail.sale_opens_at_ms, detail.sale_closes_at_ms) {
                (Some(at), _) => format!(" (opens {})", when::show(at)),
                (None, Some(at)) => format!(" (closed {})", when::show(at)),
                (None, None) => String::new(),
            };
            eprintln!("stockctl: refused ({reason}): {}{when}", status.message());
            ExitCode::from(EXIT_REJECTED)
        }
        Err(Failure::Client(e @ Error::Unavailable { attempts, .. })) => {
            let tries = if attempts == 1 { "1 attempt".to_string() } else { format!("{attempts} attempts") };
            eprintln!("stockctl: cluster unreachable after {tries}: {}", advice::explain_failure(&e, &options));
            ExitCode::from(EXIT_UNREACHABLE)
        }
        Err(Failure::Client(Error::Usage(message))) => {
            eprintln!("stockctl: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Client(Error::OutcomeUnknown(status))) => {
            eprintln!(
                "stockctl: the reply did not arrive whole ({:?}): {} (a change may have been applied: read it back)",
                status.code(),
                status.message()
            );
            ExitCode::from(EXIT_OUTCOME_UNKNOWN)
        }
    }
}
