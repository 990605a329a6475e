//! `stockd`: one stockraft node. `stockd --help` lists the flags; cluster/*.toml are examples.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use stockraft_server::config::{Config, Flags};
use stockraft_server::server;
use stockraft_server::telemetry::logs::{self, LogControl, LogFormat};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: 0 stopped cleanly, 2 bad configuration, 1 any other failure.
fn main() -> ExitCode {
    let flags = Flags::parse();
    let print_config = flags.print_config;
    let config = match Config::load(flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("stockd: {e}");
            return ExitCode::from(2);
        }
    };
    if print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let logs = logs::init(&config.log, config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(run(config, logs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stockd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config, logs: LogControl) -> Result<(), server::StartError> {
    let node_id = config.node_id;
    let advertised = config.advertised().to_string();
    let metrics = config.metrics_listen.clone();
    let json = config.log_format == LogFormat::Json;
    let started = server::start(config, Some(logs)).await?;
    let stockctl = stockctl_path();
    let status = format!("{stockctl} --endpoints {advertised} cluster status");
    let reserve =
        format!("{stockctl} --endpoints {advertised} reserve --sku moutai-flash --buyer alice --hold order-1");
    let metrics = metrics.map(|m| format!("curl -s http://{m}/metrics"));
    if json {
        // A log pipeline reads every line as JSON: the banner is an event like any other.
        let metrics = metrics.unwrap_or_default();
        tracing::info!(node_id, grpc = %advertised, %status, %reserve, %metrics, "stockd started");
    } else {
        eprintln!("stockd: node {node_id} serving gRPC on {advertised} (Ctrl-C stops it)");
        eprintln!("  status:  {status}");
        eprintln!("  reserve: {reserve}");
        if let Some(metrics) = metrics {
            eprintln!("  metrics: {metrics}");
        }
    }
    started.serve(shutdown_signal()).await
}

/// stockctl as the user can type it: the one built next to this stockd, relative when possible.
fn stockctl_path() -> String {
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("stockctl")));
    match beside {
        Some(path) if path.exists() => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let shown: PathBuf = path.strip_prefix(&cwd).map(PathBuf::from).unwrap_or(path);
            shown.display().to_string()
        }
        _ => "stockctl".into(),
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
