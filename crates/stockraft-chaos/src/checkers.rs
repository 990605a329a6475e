//! The checkers every history goes through, and what they need from the cluster's final state.

use crate::history::{Call, Outcome, Record};
use crate::model::{Input, Output, Refusal, SkuModel, Timed};
use crate::workload::Sale;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use stockraft_check::{Limits, Operation, Verdict, check};
use stockraft_client::v1;

/// What the cluster looked like after the faults were healed and the final reads were done.
#[derive(Debug, Default)]
pub struct FinalState {
    /// Every node's own state at one applied index.
    pub nodes: Vec<v1::StateCheck>,
    /// Every hold a reserve was sent for: its final record, or `None` if the cluster has none.
    pub holds: HashMap<String, Option<v1::Hold>>,
    /// The audit ledger's reserve entries: (hold, log index).
    pub reserve_entries: Vec<(String, u64)>,
    /// The raffle, entries and draw included (none if it could not be read).
    pub raffle: Option<v1::Raffle>,
    /// When the final state was read (monotonic ns and wall ms).
    pub end_ns: u64,
    pub end_wall_ms: u64,
}

#[derive(Clone, Debug)]
pub struct CheckResult {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

pub(crate) fn result(name: &'static str, problems: Vec<String>, ok_detail: String) -> CheckResult {
    let passed = problems.is_empty();
    let detail = if passed {
        ok_detail
    } else {
        let shown: Vec<&String> = problems.iter().take(5).collect();
        format!("{} problem(s): {}", problems.len(), shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; "))
    };
    CheckResult { name, passed, detail }
}

/// All replicas at the same log index hold identical states, each passing its own invariant
/// check (held and committed equal the open and confirmed holds' allocations, caps, ...).
pub fn replicas_identical(state: &FinalState, size: usize) -> CheckResult {
    let mut problems = Vec::new();
    if state.nodes.len() != size {
        problems.push(format!("{} of {size} nodes answered CheckState", state.nodes.len()));
    }
    let first = state.nodes.first();
    for node in &state.nodes {
        if let Some(first) = first
            && (node.applied_log_index, node.digest) != (first.applied_log_index, first.digest)
        {
            problems.push(format!(
                "node {} at index {} has digest {:016x}, node {} at index {} has {:016x}",
                node.node_id, node.applied_log_index, node.digest, first.node_id, first.applied_log_index, first.digest
            ));
        }
        if !node.invariant_violation.is_empty() {
            problems.push(format!("node {}: {}", node.node_id, node.invariant_violation));
        }
    }
    let ok = first.map_or(String::new(), |f| {
        format!("{} nodes at log index {}, digest {:016x}", size, f.applied_log_index, f.digest)
    });
    result("replicas identical", problems, ok)
}

/// On every node, for every (item, warehouse): held + committed + safety stock <= on hand.
pub fn no_oversell(state: &FinalState) -> CheckResult {
    let mut problems = Vec::new();
    let mut levels = 0;
    for node in &state.nodes {
        for level in &node.stock {
            levels += 1;
            let promised = u64::from(level.held) + u64::from(level.committed) + u64::from(level.safety_stock);
            if promised > u64::from(level.on_hand) || level.shortfall > 0 {
                problems.push(format!(
                    "node {} {}@{}: held {} + committed {} + safety {} > on hand {} (shortfall {})",
                    node.node_id,
                    level.item_id,
                    level.warehouse_id,
                    level.held,
                    level.committed,
                    level.safety_stock,
                    level.on_hand,
                    level.shortfall
                ));
            }
        }
    }
    result("no oversell", problems, format!("{levels} stock levels across all nodes"))
}

fn hold_state(hold: &v1::Hold) -> v1::HoldState {
    v1::HoldState::try_from(hold.state).unwrap_or(v1::HoldState::Unspecified)
}

/// Every acknowledged hold is in the final state, with the expiry it was last acknowledged with
/// (by its reserve or a re-hold), in the state its later acknowledged calls put it in (or a
/// later legal one).
pub fn no_lost_acknowledgement(records: &[Record], state: &FinalState) -> CheckResult {
    use v1::HoldState::*;
    let mut problems = Vec::new();
    let mut acked = 0;
    // Each hold's later calls (confirm, release, re-hold), in the order they completed.
    let mut ends: HashMap<&str, Vec<(&Call, &Outcome)>> = HashMap::new();
    for record in records {
        if let Call::Confirm { hold, .. } | Call::Release { hold, .. } | Call::Rehold { hold, .. } = &record.call {
            ends.entry(hold.as_str()).or_default().push((&record.call, &record.outcome));
        }
    }
    for record in records {
        let (Call::Reserve { hold, .. }, Outcome::Held { expires_at_ms, .. }) = (&record.call, &record.outcome) else {
            continue;
        };
        acked += 1;
        let Some(Some(found)) = state.holds.get(hold) else {
            problems.push(format!("hold {hold} was acknowledged but the cluster does not have it"));
            continue;
        };
        // The expiry last acknowledged; `None` once a re-hold's answer was lost.
        let mut expiry = Some(*expires_at_ms);
        let final_state = hold_state(found);
        let mut legal = vec![Held, Expired];
        for (call, outcome) in ends.get(hold.as_str()).into_iter().flatten() {
            legal = match (call, outcome) {
                (Call::Confirm { .. }, Outcome::Confirmed { .. }) => vec![Confirmed],
                (Call::Release { .. }, Outcome::Released { .. }) => vec![Released],
                (Call::Rehold { .. }, Outcome::Held { expires_at_ms, .. }) => {
                    expiry = Some(*expires_at_ms);
                    vec![Held, Expired]
                }
                // Within its TTL a re-hold changes nothing.
                (Call::Rehold { .. }, Outcome::Rejected { reason, .. }) if reason == "INVALID_TRANSITION" => legal,
                (_, Outcome::Rejected { .. }) => vec![Expired],
                (Call::Confirm { .. }, Outcome::Unknown { .. }) => vec![Held, Expired, Confirmed],
                (Call::Release { .. }, Outcome::Unknown { .. }) => vec![Held, Expired, Released],
                (Call::Rehold { .. }, Outcome::Unknown { .. }) => {
                    expiry = None;
                    vec![Held, Expired]
                }
                _ => legal,
            };
        }
        if let Some(expected) = expiry
            && found.expires_at_ms != Some(expected)
        {
            problems.push(format!("hold {hold} acknowledged to expire at {expected}, found {:?}", found.expires_at_ms));
        }
        if !legal.contains(&final_state) {
            problems.push(format!("hold {hold} is {final_state:?}; its acknowledged history allows {legal:?}"));
        }
    }
    // Acknowledged confirms of holds whose reserve outcome was unknown count too.
    for record in records {
        if let (Call::Confirm { hold, .. }, Outcome::Confirmed { .. }) = (&record.call, &record.outcome)
            && !matches!(state.holds.get(hold), Some(Some(h)) if hold_state(h) == Confirmed)
        {
            problems.push(format!("hold {hold}'s confirm was acknowledged but it is not CONFIRMED"));
        }
    }
    result("no lost acknowledgement", problems, format!("{acked} acknowledged holds all present"))
}

/// No request applied twice (each hold's reserve entries share one log index; no reserve told
/// ALREADY_EXISTS about its own hold), no buyer above a cap in the final state, and no call
/// refused for a reason the workload never provokes.
pub fn no_duplicates(records: &[Record], state: &FinalState, sale: &Sale) -> CheckResult {
    let mut problems = Vec::new();
    let mut indexes: HashMap<&str, Vec<u64>> = HashMap::new();
    for (hold, index) in &state.reserve_entries {
        let seen = indexes.entry(hold.as_str()).or_default();
        if !seen.contains(index) {
            seen.push(*index);
        }
    }
    for (hold, seen) in &indexes {
        if seen.len() > 1 {
            problems.push(format!("hold {hold} was reserved at log indexes {seen:?}"));
        }
    }
    let expected = ["OUT_OF_STOCK", "LIMIT_EXCEEDED", "HOLD_EXPIRED", "INVALID_TRANSITION"];
    for record in records.iter().filter(|r| !r.call.is_fair()) {
        if let Outcome::Rejected { reason, message, .. } = &record.outcome
            && !expected.contains(&reason.as_str())
        {
            problems.push(format!("{} {:?} refused: {reason} {message}", record.call.name(), record.call));
        }
    }
    // Caps, from the final holds (a retried reserve repeats its hold: count each hold once).
    let mut usage: BTreeMap<(usize, u32), (u32, u32)> = BTreeMap::new();
    let mut counted = std::collections::HashSet::new();
    for record in records {
        let Call::Reserve { sku, hold, buyer, quantity, .. } = &record.call else { continue };
        if !counted.insert(hold.as_str()) {
            continue;
        }
        if let Some(Some(found)) = state.holds.get(hold) {
            let entry = usage.entry((*sku, *buyer)).or_default();
            match hold_state(found) {
                v1::HoldState::Held => *entry = (entry.0 + quantity, entry.1 + 1),
                v1::HoldState::Confirmed => entry.0 += quantity,
                _ => {}
            }
        }
    }
    for ((sku, buyer), (units, open)) in &usage {
        if *units > sale.units_per_buyer_max || *open > sale.open_holds_per_buyer_max {
            problems.push(format!("buyer {buyer} has {units} units in {open} open holds of sku {sku}"));
        }
    }
    let ok = format!("{} holds reserved once each; {} buyer/SKU pairs within caps", indexes.len(), usage.len());
    result("no duplicates, caps kept", problems, ok)
}

/// No node tore down a client's connection with GOAWAY ENHANCE_YOUR_CALM (h2's rapid-reset
/// defence, which fails every call on the connection). Regression check: with h2's default
/// limit of 20 reset streams, clients whose calls time out during a stall tripped it.
pub fn connections_kept(cluster: &stockraft_testkit::Cluster) -> CheckResult {
    let mut problems = Vec::new();
    for id in cluster.ids() {
        let log = std::fs::read_to_string(cluster.log_path(id)).unwrap_or_default();
        let tripped = log.lines().filter(|l| l.contains("reached limit")).count();
        if tripped > 0 {
            problems.push(format!("node {id}: {tripped} connections torn down by h2's reset limit"));
        }
    }
    result("connections kept", problems, "no connection torn down by h2's reset limit".into())
}

/// One SKU's history as the linearizability search sees it.
pub struct SkuHistory {
    pub sku: usize,
    pub operations: Vec<Operation<Timed, Output>>,
    /// The records the operations came from (for reporting).
    pub sources: Vec<Record>,
}

/// Builds each SKU's history: retries of one request merge into one operation; outcomes left
/// unknown are resolved from the final state where it tells (a hold that exists was reserved;
/// a hold that is CONFIRMED was confirmed); what it cannot tell stays optional.
pub fn sku_histories(records: &[Record], state: &FinalState, skus: usize) -> Vec<SkuHistory> {
    // Merge retries: same request id, first invocation, last answer.
    let mut merged: Vec<Record> = Vec::new();
    let mut by_request: HashMap<String, usize> = HashMap::new();
    for record in records {
        let request = match &record.call {
            Call::Reserve { request_id, .. } | Call::Rehold { request_id, .. } => Some(request_id.clone()),
            _ => None,
        };
        match request.and_then(|r| by_request.get(&r).copied().map(|at| (r, at))) {
            Some((_, at)) => {
                let first = &mut merged[at];
                first.completed_ns = record.completed_ns;
                first.completed_wall_ms = record.completed_wall_ms;
                first.outcome = record.outcome.clone();
            }
            None => {
                if let Call::Reserve { request_id, .. } | Call::Rehold { request_id, .. } = &record.call {
                    by_request.insert(request_id.clone(), merged.len());
                }
                merged.push(record.clone());
            }
        }
    }
    let mut histories: Vec<SkuHistory> =
        (0..skus).map(|sku| SkuHistory { sku, operations: Vec::new(), sources: Vec::new() }).collect();
    let mut hold_numbers: HashMap<String, u32> = HashMap::new();
    let mut number = |hold: &str| {
        let next = hold_numbers.len() as u32;
        *hold_numbers.entry(hold.to_string()).or_insert(next)
    };
    let final_hold = |hold: &str| state.holds.get(hold).cloned().flatten();
    // Where each hold was reserved, from the audit ledger: the hint for reserves whose answer
    // was lost (they may sit anywhere after their invocation; the log says where they are).
    let reserved_at: HashMap<&str, u64> = state.reserve_entries.iter().map(|(h, i)| (h.as_str(), *i)).collect();
    let end = (state.end_ns, state.end_wall_ms);
    for record in merged.into_iter().filter(|r| r.call.sku() < skus) {
        let done = (record.completed_ns, record.completed_wall_ms);
        let rejected = |outcome: &Outcome| match outcome {
            Outcome::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        // What a confirm or re-hold was told when the re-hold rule or a cap refused it.
        let refused = |outcome: &Outcome| match outcome {
            Outcome::Rejected { reason, rehold_refusal, .. } => match (reason.as_str(), rehold_refusal.as_str()) {
                ("HOLD_EXPIRED", "LIMIT_REACHED") => Some(Output::Lapsed(Some(Refusal::LimitReached))),
                ("HOLD_EXPIRED", "GRACE_WINDOW_PASSED") => Some(Output::Lapsed(Some(Refusal::GraceWindowPassed))),
                ("HOLD_EXPIRED", "NO_STOCK") => Some(Output::Lapsed(Some(Refusal::NoStock))),
                ("LIMIT_EXCEEDED", _) => Some(Output::LimitExceeded),
                ("INVALID_TRANSITION", _) => Some(Output::InvalidTransition),
                _ => None,
            },
            _ => None,
        };
        let (input, output, (completed_ns, by_wall_ms)) = match (&record.call, &record.outcome) {
            (Call::Reserve { hold, buyer, quantity, .. }, outcome) => {
                let input = Input::Reserve { hold: number(hold), buyer: *buyer, quantity: *quantity };
                match outcome {
                    Outcome::Held { expires_at_ms, .. } => {
                        (input, Some(Output::Held { expires_at_ms: *expires_at_ms }), done)
                    }
                    Outcome::Unknown { .. } => match final_hold(hold) {
                        Some(h) => (input, Some(Output::Held { expires_at_ms: h.expires_at_ms.unwrap_or(0) }), end),
                        None => continue,
                    },
                    other => match rejected(other).as_deref() {
                        Some("OUT_OF_STOCK") => (input, Some(Output::OutOfStock), done),
                        Some("LIMIT_EXCEEDED") => (input, Some(Output::LimitExceeded), done),
                        _ => continue, // reported by no_duplicates
                    },
                }
            }
            (Call::Confirm { hold, .. }, outcome) => {
                let input = Input::Confirm { hold: number(hold) };
                match outcome {
                    Outcome::Confirmed { .. } => (input, Some(Output::Confirmed), done),
                    Outcome::Unknown { .. } => match final_hold(hold).map(|h| hold_state(&h)) {
                        Some(v1::HoldState::Confirmed) => (input, Some(Output::Confirmed), end),
                        Some(v1::HoldState::Expired) => (input, Some(Output::Lapsed(None)), end),
                        _ => continue,
                    },
                    other => match refused(other) {
                        Some(output @ (Output::Lapsed(_) | Output::LimitExceeded)) => (input, Some(output), done),
                        _ => continue, // reported by no_duplicates
                    },
                }
            }
            (Call::Rehold { hold, .. }, outcome) => {
                let input = Input::Rehold { hold: number(hold) };
                match outcome {
                    Outcome::Held { expires_at_ms, .. } => {
                        (input, Some(Output::Held { expires_at_ms: *expires_at_ms }), done)
                    }
                    // The final hold says whether the lost re-hold took effect: it counted one
                    // re-hold and set the expiry the hold has now (no later call re-holds it:
                    // after a lost answer the buyer walks away).
                    Outcome::Unknown { .. } => match final_hold(hold) {
                        Some(h) if h.rehold_count > 0 => {
                            (input, Some(Output::Held { expires_at_ms: h.expires_at_ms.unwrap_or(0) }), end)
                        }
                        _ => continue,
                    },
                    other => match refused(other) {
                        Some(output) => (input, Some(output), done),
                        None => continue, // reported by no_duplicates
                    },
                }
            }
            (Call::Release { hold, .. }, outcome) => {
                let input = Input::Release { hold: number(hold) };
                match outcome {
                    Outcome::Released { .. } => (input, Some(Output::Released), done),
                    Outcome::Rejected { reason, .. } if reason == "INVALID_TRANSITION" => {
                        (input, Some(Output::Expired), done)
                    }
                    Outcome::Unknown { .. } => match final_hold(hold).map(|h| hold_state(&h)) {
                        Some(v1::HoldState::Released) => (input, Some(Output::Released), end),
                        _ => continue,
                    },
                    _ => continue,
                }
            }
            (Call::Read { .. }, Outcome::Available { units, .. }) => {
                (Input::Read, Some(Output::Available(*units)), done)
            }
            (Call::Read { .. }, _) => continue,
            (Call::Restock { units, .. }, Outcome::Restocked { .. }) => {
                (Input::Restock { units: *units }, Some(Output::Restocked), done)
            }
            (Call::Restock { units, .. }, Outcome::Unknown { .. }) => (Input::Restock { units: *units }, None, end),
            (Call::Restock { .. }, _) => continue,
            // The fair-sale SKUs' calls were filtered out above: their own checkers judge them.
            (Call::Wait { .. } | Call::Leave { .. } | Call::Pay { .. } | Call::Enter { .. } | Call::Draw { .. }, _) => {
                continue;
            }
        };
        let history = &mut histories[record.call.sku()];
        let completed = output.map(|output| (completed_ns, output));
        history.operations.push(Operation {
            input: Timed { input, from_wall_ms: record.invoked_wall_ms, by_wall_ms },
            invoked_at: record.invoked_ns,
            completed,
            hint: match &record.outcome {
                // Writes take effect at their log position; a read sees the state after one.
                Outcome::Held { log_index, .. }
                | Outcome::Confirmed { log_index }
                | Outcome::Released { log_index }
                | Outcome::Restocked { log_index } => Some(log_index * 2),
                Outcome::Available { as_of_log_index, .. } => Some(as_of_log_index * 2 + 1),
                // Refusals are decided by the ledger at an entry too (a retried request id's
                // refusal carries the retry's entry: a later hint, never an earlier one).
                Outcome::Rejected { log_index, .. } if *log_index > 0 => Some(log_index * 2),
                Outcome::Unknown { .. } => match &record.call {
                    Call::Reserve { hold, .. } => reserved_at.get(hold.as_str()).map(|i| i * 2),
                    _ => None,
                },
                _ => None,
            },
        });
        history.sources.push(record);
    }
    histories
}

#[derive(Clone, Debug)]
pub struct SkuVerdict {
    pub sku: usize,
    pub operations: usize,
    pub verdict: Verdict,
    pub seconds: f64,
    pub detail: String,
}

/// Searches each SKU's history for a linearization against [`SkuModel`].
pub fn linearizable(histories: &[SkuHistory], sale: &Sale, initial_units: u32, max_steps: u64) -> Vec<SkuVerdict> {
    histories
        .iter()
        .map(|h| {
            let started = Instant::now();
            let model = SkuModel::new(
                initial_units,
                sale.units_per_buyer_max,
                sale.open_holds_per_buyer_max,
                sale.rehold_limit,
                sale.hold_ttl_ms,
            );
            let verdict = check(model, &h.operations, Limits { max_steps });
            let detail = match &verdict {
                Verdict::NotLinearizable { stuck_after } | Verdict::Unknown { longest: stuck_after } => {
                    let placed: std::collections::HashSet<usize> = stuck_after.iter().copied().collect();
                    let last: Vec<String> = stuck_after
                        .iter()
                        .rev()
                        .take(3)
                        .rev()
                        .map(|&i| format!("{:?} -> {:?}", h.sources[i].call, h.sources[i].outcome))
                        .collect();
                    let mut next: Vec<usize> = (0..h.operations.len()).filter(|i| !placed.contains(i)).collect();
                    next.sort_by_key(|&i| h.operations[i].invoked_at);
                    let next: Vec<String> = next
                        .iter()
                        .take(3)
                        .map(|&i| format!("{:?} -> {:?} at {} ns", h.sources[i].call, h.sources[i].outcome, h.operations[i].invoked_at))
                        .collect();
                    let gave_up = if matches!(verdict, Verdict::Unknown { .. }) {
                        format!("search gave up after {max_steps} steps; ")
                    } else {
                        String::new()
                    };
                    format!(
                        "{gave_up}no linearization explains {} operations past {} of them; last placed: [{}]; unexplained next: [{}]",
                        h.operations.len(),
                        stuck_after.len(),
                        last.join(", "),
                        next.join(", ")
                    )
                }
                Verdict::Linearizable { .. } => String::new(),
            };
            SkuVerdict { sku: h.sku, operations: h.operations.len(), verdict, seconds: started.elapsed().as_secs_f64(), detail }
        })
        .collect()
}
