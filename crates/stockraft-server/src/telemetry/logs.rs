//! Logs: `tracing` to stderr, human-readable by default or one JSON object per line
//! (`log_format = "json"`), under a filter that can be replaced while the node runs
//! (`stockctl cluster log-filter`, the Cluster service's `SetLogFilter`).

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event, for people (colours on a terminal).
    #[default]
    Human,
    /// One JSON object per event with its span's fields (request and hold ids), for log pipelines.
    Json,
}

/// Changes the running node's log filter.
#[derive(Clone)]
pub struct LogControl {
    handle: Arc<reload::Handle<EnvFilter, Registry>>,
    current: Arc<std::sync::Mutex<String>>,
}

impl LogControl {
    /// The filter in force.
    pub fn current(&self) -> String {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the filter; a filter that does not parse is refused and changes nothing.
    /// Returns the previous filter.
    pub fn set(&self, filter: &str) -> Result<String, String> {
        let parsed = EnvFilter::try_new(filter).map_err(|e| format!("log filter {filter:?}: {e}"))?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        self.handle.reload(parsed).map_err(|e| format!("cannot change the log filter: {e}"))?;
        Ok(std::mem::replace(&mut current, filter.to_string()))
    }
}

/// Installs the process-wide subscriber. `filter` was checked by the config's validation.
pub fn init(filter: &str, format: LogFormat) -> LogControl {
    let (layer, handle) = reload::Layer::new(EnvFilter::new(filter));
    let registry = tracing_subscriber::registry().with(layer);
    // Each gRPC call runs in a DEBUG span carrying its request and hold ids; at DEBUG (at start
    // or set at runtime) the span's close is logged: one line per call, with its ids and time.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_span_events(FmtSpan::CLOSE);
    match format {
        // Colours on a terminal only: logs written to files stay plain text.
        LogFormat::Human => registry.with(fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))).init(),
        LogFormat::Json => registry.with(fmt.json().with_current_span(true).with_span_list(false)).init(),
    }
    LogControl { handle: Arc::new(handle), current: Arc::new(std::sync::Mutex::new(filter.to_string())) }
}
