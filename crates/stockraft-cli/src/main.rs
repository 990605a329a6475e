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

/// Why a command failed, beyond the client's own errors.
#[derive(Debug)]
pub enum Failure {
    /// A call failed (see [`Error`]).
    Client(Error),
    /// The command ran, and found a node unhealthy or unreachable (exit 5).
    Unhealthy(String),
    /// No node answered a question the command needed answered (exit 4).
    Unreachable(String),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Err(Failure::Client(Error::Rejected(status))) => {
            let reason = match stockraft_client::reason(&status) {
                stockraft_client::v1::Reason::Unspecified => format!("{:?}", status.code()),
                reason => stockraft_client::reason_name(reason).to_string(),
            };
            eprintln!("stockctl: refused ({reason}): {}", status.message());
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
    }
}
