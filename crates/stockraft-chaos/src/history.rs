//! The recorded history of a run: every operation's invocation and completion (or that its
//! outcome is unknown), and every fault, with the times they happened. Written as JSON so a
//! failing run can be inspected (`jq '.operations[] | select(.outcome.type == "unknown")'`).

use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What a client asked. `sku` indexes the shop's SKUs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    Reserve {
        sku: usize,
        hold: String,
        buyer: u32,
        quantity: u32,
        request_id: String,
    },
    Confirm {
        sku: usize,
        hold: String,
        request_id: String,
    },
    Release {
        sku: usize,
        hold: String,
        request_id: String,
    },
    /// The buyer back on the payment page after the hold expired.
    Rehold {
        sku: usize,
        hold: String,
        request_id: String,
    },
    /// A linearizable GetAvailability.
    Read {
        sku: usize,
    },
    /// ReceiveStock of `units` into one warehouse.
    Restock {
        sku: usize,
        warehouse: String,
        units: u32,
        request_id: String,
    },
    /// One unit of the waitlist SKU, taking a place on its waitlist if it is sold out.
    Wait {
        hold: String,
        buyer: u32,
        request_id: String,
    },
    /// Give up a place on the waitlist.
    Leave {
        hold: String,
        request_id: String,
    },
    /// Pay a hold the waitlist or the raffle granted.
    Pay {
        hold: String,
        request_id: String,
    },
    /// An entry in the raffle.
    Enter {
        hold: String,
        buyer: u32,
        request_id: String,
    },
    /// Reveal the seed (hex) and draw the raffle.
    Draw {
        request_id: String,
        seed_hex: String,
    },
}

impl Call {
    pub fn sku(&self) -> usize {
        match self {
            Call::Reserve { sku, .. }
            | Call::Confirm { sku, .. }
            | Call::Release { sku, .. }
            | Call::Rehold { sku, .. }
            | Call::Read { sku }
            | Call::Restock { sku, .. } => *sku,
            Call::Wait { .. } | Call::Leave { .. } | Call::Pay { .. } => crate::fair::WAIT_SKU,
            Call::Enter { .. } | Call::Draw { .. } => crate::fair::RAFFLE_SKU,
        }
    }

    /// Calls on the fair-sale SKUs (the waitlist's and the raffle's), which their own checkers
    /// judge rather than the flash SKUs' model.
    pub fn is_fair(&self) -> bool {
        self.sku() >= crate::fair::WAIT_SKU
    }

    pub fn name(&self) -> &'static str {
        match self {
            Call::Reserve { .. } => "reserve",
            Call::Confirm { .. } => "confirm",
            Call::Release { .. } => "release",
            Call::Rehold { .. } => "rehold",
            Call::Read { .. } => "read",
            Call::Restock { .. } => "restock",
            Call::Wait { .. } => "wait",
            Call::Leave { .. } => "leave",
            Call::Pay { .. } => "pay",
            Call::Enter { .. } => "enter",
            Call::Draw { .. } => "draw",
        }
    }

    /// Reads have no effect; everything else is a write.
    pub fn is_write(&self) -> bool {
        !matches!(self, Call::Read { .. })
    }
}

/// What the client was told.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    /// A reserve or a re-hold held the units until `expires_at_ms`.
    Held {
        expires_at_ms: u64,
        log_index: u64,
    },
    /// Writes carry the log index they were applied at.
    Confirmed {
        log_index: u64,
    },
    Released {
        log_index: u64,
    },
    Restocked {
        log_index: u64,
    },
    /// `as_of_log_index`: the log position the answer reflects.
    Available {
        units: u32,
        as_of_log_index: u64,
    },
    /// A final answer from the cluster: the operation did not take effect (out of stock, limit
    /// exceeded, hold expired, invalid transition, ...). `reason` is the ErrorDetail reason.
    Rejected {
        reason: String,
        /// HOLD_EXPIRED: the re-hold rule's refusal (LIMIT_REACHED, GRACE_WINDOW_PASSED, NO_STOCK).
        #[serde(skip_serializing_if = "String::is_empty")]
        rehold_refusal: String,
        message: String,
        /// The log entry the refusal was decided at (0: refused before the log).
        log_index: u64,
    },
    /// Timed out or unreachable: it may or may not have taken effect.
    Unknown {
        error: String,
    },
    /// A place on the waitlist (1: next in line), taken at `log_index`.
    Waiting {
        position: u32,
        log_index: u64,
    },
    /// A place given up, an entry taken, a raffle drawn: at `log_index`.
    Left {
        log_index: u64,
    },
    Entered {
        log_index: u64,
    },
    Drawn {
        log_index: u64,
    },
}

impl Outcome {
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown { .. })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// The worker that sent it (one outstanding call per worker).
    pub process: usize,
    #[serde(flatten)]
    pub call: Call,
    /// Monotonic nanoseconds since the run began.
    pub invoked_ns: u64,
    /// Wall-clock milliseconds (the clock stockd stamps commands with) at invocation: the call
    /// took effect at or after it.
    pub invoked_wall_ms: u64,
    /// When the client got its answer or gave up.
    pub completed_ns: u64,
    /// Wall-clock milliseconds (the clock stockd stamps commands with) at completion.
    pub completed_wall_ms: u64,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    pub kind: &'static str,
    pub nodes: Vec<u64>,
    pub started_ns: u64,
    pub ended_ns: u64,
    pub note: String,
}

/// The run's clock and the records, shared by the workers and the nemesis.
#[derive(Clone)]
pub struct History {
    began: Instant,
    inner: Arc<Mutex<(Vec<Record>, Vec<Fault>)>>,
}

impl Default for History {
    fn default() -> Self {
        History { began: Instant::now(), inner: Arc::default() }
    }
}

pub fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl History {
    pub fn now_ns(&self) -> u64 {
        self.began.elapsed().as_nanos() as u64
    }

    /// Now, as a call's invocation: (monotonic ns, wall-clock ms).
    pub fn invocation(&self) -> (u64, u64) {
        (self.now_ns(), wall_ms())
    }

    pub fn record(&self, process: usize, call: Call, (invoked_ns, invoked_wall_ms): (u64, u64), outcome: Outcome) {
        let (completed_ns, completed_wall_ms) = (self.now_ns(), wall_ms());
        let record = Record { process, call, invoked_ns, invoked_wall_ms, completed_ns, completed_wall_ms, outcome };
        self.inner.lock().expect("history").0.push(record);
    }

    pub fn fault(&self, fault: Fault) {
        self.inner.lock().expect("history").1.push(fault);
    }

    pub fn operations(&self) -> Vec<Record> {
        self.inner.lock().expect("history").0.clone()
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.inner.lock().expect("history").1.clone()
    }
}
