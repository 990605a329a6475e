//! The fair sale beside the flash sale: a SKU sold with a waitlist and a SKU sold by raffle,
//! under the same faults, and the checkers that judge them.
//!
//! - *Waitlist SKU*: a few units, no caps, one unit per order. Waiters reserve with
//!   `join_waitlist`; a place is then followed by polling the order until it is HELD (paid or
//!   left to expire, which passes it on) or given up. Unpaid holds and a slow restock bring
//!   units back.
//! - *Raffle SKU*: created with the SHA-256 of a seed the workload keeps; entries until a few
//!   seconds into the run; then the seed is revealed with the draw (asked again with the same
//!   request id when the answer is lost); winners pay or walk away, so holds pass down the draw
//!   order.
//!
//! The checkers are written from PRODUCT.md's rules, not from the ledger's code (the draw order
//! is recomputed here with SHA-256 directly):
//! - *waitlist served in order*: no acknowledged place is lost; places are granted in the order
//!   they were taken (by log index: one unit per order and no caps, so first-fit is strict
//!   FIFO); and no order took a unit straight from open sale while an earlier place waited.
//! - *raffle drawn fairly*: the revealed seed is the committed one; the order is SHA-256 of
//!   seed, zero byte and order id, ascending; every acknowledged entry was drawn and nothing
//!   else; the holds granted at the draw are a prefix of the order, and later grants follow it.
//!
//! That every replica granted the same holds and drew the same winners at the same log index is
//! the *replicas identical* checker's digest comparison: waitlists and raffles are in the
//! snapshot the digest is taken of.

use crate::checkers::{CheckResult, FinalState, result};
use crate::history::{Call, History, Outcome, Record};
use crate::workload::failure;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use stockraft_client::{Client, Error, call, new_request_id, v1};

/// The fair SKUs' indexes in the history (past any flash SKU's).
pub const WAIT_SKU: usize = 100;
pub const RAFFLE_SKU: usize = 101;
/// Units of each on sale at the start.
pub const WAIT_UNITS: u32 = 3;
pub const RAFFLE_UNITS: u32 = 4;
/// Processes waiting on the waitlist SKU.
pub const WAITERS: usize = 6;
/// How long the raffle takes entries from the start of the sale.
pub const RAFFLE_ENTRIES_FOR: Duration = Duration::from_secs(6);

pub fn sku_name(sku: usize) -> &'static str {
    if sku == WAIT_SKU { "fair-wait" } else { "fair-raffle" }
}

/// The raffle's seed: fixed per run seed, so a failing run can be replayed.
pub fn raffle_seed(run_seed: u64) -> Vec<u8> {
    Sha256::digest(format!("stockchaos raffle seed {run_seed}").as_bytes()).to_vec()
}

/// The waitlist SKU (with its waitlist open) and the raffle SKU (with its raffle created),
/// both PRE_DEDUCT with the flash sale's TTL, stocked in the first warehouse.
pub async fn set_up(client: &Client, hold_ttl_ms: u64, run_seed: u64) -> Result<u64, Error> {
    let warehouse = crate::workload::WAREHOUSES[0].0;
    for (sku, units) in [(WAIT_SKU, WAIT_UNITS), (RAFFLE_SKU, RAFFLE_UNITS)] {
        let item = v1::Item { id: crate::workload::item_id(sku), name: sku_name(sku).into() };
        call!(client, catalog, upsert_item, v1::UpsertItemRequest { request_id: new_request_id(), item: Some(item) })?;
        let rules = v1::SaleRules {
            mode: v1::DeductionMode::PreDeduct as i32,
            hold_ttl_ms,
            rehold_limit: Some(0),
            ..v1::SaleRules::default()
        };
        let request = v1::UpsertSkuRequest {
            request_id: new_request_id(),
            sku_id: sku_name(sku).into(),
            components: vec![v1::Component { item_id: crate::workload::item_id(sku), quantity: 1 }],
            rules: Some(rules),
        };
        call!(client, catalog, upsert_sku, request)?;
        let request = v1::ReceiveStockRequest {
            request_id: new_request_id(),
            item_id: crate::workload::item_id(sku),
            warehouse_id: warehouse.into(),
            units: i64::from(units),
            note: "chaos: fair sale stock".into(),
        };
        call!(client, catalog, receive_stock, request)?;
    }
    let request =
        v1::SetWaitlistRequest { request_id: new_request_id(), sku_id: sku_name(WAIT_SKU).into(), length_max: 10_000 };
    call!(client, catalog, set_waitlist, request)?;
    let closes = crate::history::wall_ms() + RAFFLE_ENTRIES_FOR.as_millis() as u64;
    let request = v1::CreateRaffleRequest {
        request_id: new_request_id(),
        sku_id: sku_name(RAFFLE_SKU).into(),
        entries_open_at_ms: crate::history::wall_ms(),
        entries_close_at_ms: closes,
        seed_sha256: Sha256::digest(raffle_seed(run_seed)).to_vec(),
    };
    call!(client, catalog, create_raffle, request)?;
    Ok(closes)
}

fn one_unit(hold: &str, buyer: u32, sku: usize) -> (String, String, Vec<v1::Line>) {
    let lines = vec![v1::Line { sku_id: sku_name(sku).into(), quantity: 1 }];
    (hold.to_string(), format!("fair-buyer-{buyer}"), lines)
}

/// Sends a fair-sale call and records it.
pub async fn perform(client: &Client, history: &History, process: usize, call: Call) -> Outcome {
    let invoked = history.invocation();
    let outcome = match &call {
        Call::Wait { hold, buyer, request_id } => {
            let (hold_id, buyer_id, lines) = one_unit(hold, *buyer, WAIT_SKU);
            let request = v1::ReserveRequest {
                request_id: request_id.clone(),
                hold_id,
                buyer_id,
                lines,
                join_waitlist: true,
                ..v1::ReserveRequest::default()
            };
            match call!(client, inventory, reserve, request) {
                Ok(reply) if reply.state == v1::HoldState::Waitlisted as i32 => {
                    Outcome::Waiting { position: reply.waitlist_position.unwrap_or(0), log_index: reply.log_index }
                }
                Ok(reply) => {
                    Outcome::Held { expires_at_ms: reply.expires_at_ms.unwrap_or(0), log_index: reply.log_index }
                }
                Err(e) => failure(&e),
            }
        }
        Call::Leave { hold, request_id } => {
            let request = v1::LeaveWaitlistRequest {
                request_id: request_id.clone(),
                sku_id: sku_name(WAIT_SKU).into(),
                hold_id: hold.clone(),
            };
            match call!(client, inventory, leave_waitlist, request) {
                Ok(reply) => Outcome::Left { log_index: reply.log_index },
                Err(e) => failure(&e),
            }
        }
        Call::Pay { hold, request_id } => {
            let request = v1::ConfirmRequest { request_id: request_id.clone(), hold_id: hold.clone() };
            match call!(client, inventory, confirm, request) {
                Ok(reply) => Outcome::Confirmed { log_index: reply.log_index },
                Err(e) => failure(&e),
            }
        }
        Call::Enter { hold, buyer, request_id } => {
            let (hold_id, buyer_id, lines) = one_unit(hold, *buyer, RAFFLE_SKU);
            let request = v1::EnterRaffleRequest {
                request_id: request_id.clone(),
                hold_id,
                buyer_id,
                lines,
                ..v1::EnterRaffleRequest::default()
            };
            match call!(client, inventory, enter_raffle, request) {
                Ok(reply) => Outcome::Entered { log_index: reply.log_index },
                Err(e) => failure(&e),
            }
        }
        Call::Draw { request_id, seed_hex } => {
            let seed = hex::decode(seed_hex).expect("the workload writes the seed in hex");
            let request =
                v1::DrawRaffleRequest { request_id: request_id.clone(), sku_id: sku_name(RAFFLE_SKU).into(), seed };
            match call!(client, catalog, draw_raffle, request) {
                Ok(raffle) => Outcome::Drawn { log_index: raffle.draw.map_or(0, |d| d.log_index) },
                Err(e) => failure(&e),
            }
        }
        other => unreachable!("not a fair-sale call: {other:?}"),
    };
    history.record(process, call, invoked, outcome.clone());
    outcome
}

/// Polls an order (linearizably) until it is HELD or `patience` passes; returns its last state.
async fn wait_for_grant(client: &Client, hold: &str, patience: Duration, stop: &AtomicBool) -> v1::HoldState {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let request = v1::GetHoldRequest { hold_id: hold.into(), allow_stale: false };
        let state = match call!(client, inventory, get_hold, request) {
            Ok(found) => v1::HoldState::try_from(found.state).unwrap_or(v1::HoldState::Unspecified),
            Err(_) => v1::HoldState::Unspecified,
        };
        if state == v1::HoldState::Held || tokio::time::Instant::now() > deadline || stop.load(Ordering::Relaxed) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pays a granted hold 60% of the time; otherwise lets it expire, which passes it on.
async fn pay_or_walk_away(client: &Client, history: &History, process: usize, hold: String, rng: &mut StdRng) {
    if rng.random_bool(0.6) {
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..200))).await;
        perform(client, history, process, Call::Pay { hold, request_id: new_request_id() }).await;
    }
}

/// One buyer of the waitlist SKU, until `stop`.
pub async fn waiter(process: usize, client: Arc<Client>, history: History, seed: u64, stop: Arc<AtomicBool>) {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(31_337).wrapping_add(process as u64));
    let mut sequence = 0;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let hold = format!("w{process}-{sequence}");
        let wait = Call::Wait { hold: hold.clone(), buyer: rng.random_range(0..10_000), request_id: new_request_id() };
        let mut outcome = perform(&client, &history, process, wait.clone()).await;
        if outcome.is_unknown() && !stop.load(Ordering::Relaxed) {
            outcome = perform(&client, &history, process, wait).await;
        }
        match outcome {
            Outcome::Held { .. } => pay_or_walk_away(&client, &history, process, hold, &mut rng).await,
            Outcome::Waiting { .. } => {
                let patience = Duration::from_millis(rng.random_range(1_000..4_000));
                match wait_for_grant(&client, &hold, patience, &stop).await {
                    v1::HoldState::Held => pay_or_walk_away(&client, &history, process, hold, &mut rng).await,
                    _ if rng.random_bool(0.4) && !stop.load(Ordering::Relaxed) => {
                        perform(&client, &history, process, Call::Leave { hold, request_id: new_request_id() }).await;
                    }
                    _ => {}
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(rng.random_range(20..80))).await,
        }
    }
}

/// Brings a unit of the waitlist SKU back now and then (a return to stock), until `stop`.
pub async fn restocker(process: usize, client: Arc<Client>, history: History, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let call = Call::Restock {
            sku: WAIT_SKU,
            warehouse: crate::workload::WAREHOUSES[0].0.into(),
            units: 1,
            request_id: new_request_id(),
        };
        crate::workload::perform(&client, &history, process, call).await;
    }
}

/// Enters the raffle until its entries close, draws it, then has the winners pay or walk away.
pub async fn raffler(
    process: usize,
    client: Arc<Client>,
    history: History,
    (run_seed, closes_at_ms): (u64, u64),
    stop: Arc<AtomicBool>,
) {
    let mut rng = StdRng::seed_from_u64(run_seed.wrapping_mul(104_729));
    let mut entered = Vec::new();
    let mut n = 0;
    while crate::history::wall_ms() + 100 < closes_at_ms && !stop.load(Ordering::Relaxed) {
        n += 1;
        let hold = format!("r{n}");
        let enter = Call::Enter { hold: hold.clone(), buyer: n, request_id: new_request_id() };
        let mut outcome = perform(&client, &history, process, enter.clone()).await;
        if outcome.is_unknown() {
            outcome = perform(&client, &history, process, enter).await;
        }
        if !matches!(outcome, Outcome::Rejected { .. }) {
            entered.push(hold);
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..60))).await;
    }
    let wait = closes_at_ms.saturating_sub(crate::history::wall_ms()) + 50;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let draw = Call::Draw { request_id: new_request_id(), seed_hex: hex::encode(raffle_seed(run_seed)) };
    while !stop.load(Ordering::Relaxed) {
        match perform(&client, &history, process, draw.clone()).await {
            Outcome::Unknown { .. } => continue,
            _ => break,
        }
    }
    // Winners pay or walk away; those who walk away pass their bottle down the draw order.
    let mut paid = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        for hold in &entered {
            if paid.contains(hold) {
                continue;
            }
            let request = v1::GetHoldRequest { hold_id: hold.clone(), allow_stale: false };
            let held = call!(client, inventory, get_hold, request).is_ok_and(|h| h.state == v1::HoldState::Held as i32);
            if held && paid.insert(hold.clone()) {
                pay_or_walk_away(&client, &history, process, hold.clone(), &mut rng).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Each order's reserve (its grant) log index, from the audit ledger.
fn grants(state: &FinalState) -> HashMap<&str, u64> {
    state.reserve_entries.iter().map(|(hold, index)| (hold.as_str(), *index)).collect()
}

/// No acknowledged place lost; places granted in the order they were taken; no unit taken
/// straight from open sale while an earlier place waited.
pub fn waitlist_served_in_order(records: &[Record], state: &FinalState) -> CheckResult {
    let mut problems = Vec::new();
    let granted = grants(state);
    // Places: order id -> the log index it was taken at. Orders held at once: -> log index.
    let mut places: BTreeMap<&str, u64> = BTreeMap::new();
    let mut straight: Vec<(&str, u64)> = Vec::new();
    // Leaves: acknowledged at a log index, or with their outcome unknown (then maybe at any).
    let mut left: HashMap<&str, Option<u64>> = HashMap::new();
    for record in records {
        match (&record.call, &record.outcome) {
            (Call::Wait { hold, .. }, Outcome::Waiting { log_index, .. }) => {
                places.insert(hold, *log_index);
            }
            (Call::Wait { hold, .. }, Outcome::Held { log_index, .. }) => straight.push((hold, *log_index)),
            (Call::Leave { hold, .. }, Outcome::Left { log_index }) => {
                left.insert(hold, Some(*log_index));
            }
            (Call::Leave { hold, .. }, Outcome::Unknown { .. }) => {
                left.entry(hold).or_insert(None);
            }
            _ => {}
        }
    }
    // When each place stopped waiting: granted, left, or never (still waiting at the end).
    let ended = |hold: &str| -> Option<u64> {
        match (granted.get(hold), left.get(hold)) {
            (Some(&at), _) => Some(at),
            (None, Some(Some(at))) => Some(*at),
            (None, Some(None)) => Some(0), // may have left at any time: cannot hold anyone up
            (None, None) => None,
        }
    };
    for &hold in places.keys() {
        let found = state.holds.get(hold).cloned().flatten();
        if found.is_none() && !left.contains_key(hold) {
            problems.push(format!(
                "order {hold} was acknowledged a waitlist place, but the cluster has neither it nor a hold"
            ));
        }
    }
    let mut ordered: Vec<(&str, u64)> = places.iter().map(|(h, i)| (*h, *i)).collect();
    ordered.sort_by_key(|(_, joined)| *joined);
    for (b, joined_b) in &ordered {
        let Some(&granted_b) = granted.get(b) else { continue };
        for (a, _) in ordered.iter().take_while(|(_, joined)| joined < joined_b) {
            match ended(a) {
                Some(end) if end <= granted_b => {}
                _ => problems.push(format!(
                    "order {b} (place taken at {joined_b}) was granted at {granted_b} while {a}, ahead of it, still waited"
                )),
            }
        }
    }
    for (hold, at) in &straight {
        for (a, joined_a) in ordered.iter().take_while(|(_, joined)| joined < at) {
            if ended(a).is_none_or(|end| end > *at) {
                problems.push(format!(
                    "order {hold} took a unit from open sale at {at} while {a} waited (since {joined_a})"
                ));
            }
        }
    }
    let ok = format!(
        "{} places, {} granted in order, {} bought straight with nobody waiting",
        places.len(),
        places.keys().filter(|h| granted.contains_key(*h)).count(),
        straight.len()
    );
    result("waitlist served in order", problems, ok)
}

/// The draw as anyone would recompute it: SHA-256(seed || 0x00 || order id), ascending.
pub fn recomputed_order(seed: &[u8], entries: &[String]) -> Vec<String> {
    let mut scored: Vec<(Vec<u8>, &String)> = entries
        .iter()
        .map(|hold| {
            let mut hasher = Sha256::new();
            hasher.update(seed);
            hasher.update([0u8]);
            hasher.update(hold.as_bytes());
            (hasher.finalize().to_vec(), hold)
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, hold)| hold.clone()).collect()
}

/// The revealed seed is the committed one, the order is the one it gives, every acknowledged
/// entry (and only what was sent) was drawn, and grants follow the draw order.
pub fn raffle_drawn_fairly(records: &[Record], state: &FinalState, run_seed: u64) -> CheckResult {
    let mut problems = Vec::new();
    let Some(raffle) = &state.raffle else {
        return result("raffle drawn fairly", vec!["the raffle could not be read".into()], String::new());
    };
    let sent: HashSet<&str> = records
        .iter()
        .filter_map(|r| match &r.call {
            Call::Enter { hold, .. } => Some(hold.as_str()),
            _ => None,
        })
        .collect();
    let acked: HashSet<&str> = records
        .iter()
        .filter_map(|r| match (&r.call, &r.outcome) {
            (Call::Enter { hold, .. }, Outcome::Entered { .. }) => Some(hold.as_str()),
            _ => None,
        })
        .collect();
    let entries: Vec<String> = raffle.entries.iter().map(|e| e.hold_id.clone()).collect();
    for hold in &acked {
        if !entries.iter().any(|e| e == hold) {
            problems.push(format!("entry {hold} was acknowledged but is not in the raffle"));
        }
    }
    for entry in &entries {
        if !sent.contains(entry.as_str()) {
            problems.push(format!("entry {entry} is in the raffle but was never sent"));
        }
    }
    if Sha256::digest(raffle_seed(run_seed)).as_slice() != raffle.seed_sha256.as_slice() {
        problems.push("the raffle's commitment is not the SHA-256 of the workload's seed".into());
    }
    let drew = records.iter().any(|r| matches!((&r.call, &r.outcome), (Call::Draw { .. }, Outcome::Drawn { .. })));
    let mut granted_count = 0;
    match &raffle.draw {
        None if drew => problems.push("a draw was acknowledged but the raffle is not drawn".into()),
        None => {}
        Some(draw) => {
            if Sha256::digest(&draw.seed).as_slice() != raffle.seed_sha256.as_slice() {
                problems.push("the revealed seed does not hash to the commitment".into());
            }
            if recomputed_order(&draw.seed, &entries) != draw.order {
                problems.push("the published draw order is not the one the seed and the entries give".into());
            }
            let granted = grants(state);
            let at_draw: Vec<bool> =
                draw.order.iter().map(|h| granted.get(h.as_str()) == Some(&draw.log_index)).collect();
            if at_draw.windows(2).any(|w| !w[0] && w[1]) {
                problems.push("the holds granted at the draw are not the first of the draw order".into());
            }
            let mut last = 0;
            for hold in &draw.order {
                if let Some(&at) = granted.get(hold.as_str()) {
                    granted_count += 1;
                    if at < last {
                        problems.push(format!(
                            "entry {hold} was granted at {at}, before an entry drawn ahead of it (at {last})"
                        ));
                    }
                    last = last.max(at);
                }
            }
        }
    }
    let ok = format!(
        "{} entries ({} acknowledged), {}, {granted_count} granted in draw order",
        entries.len(),
        acked.len(),
        if raffle.draw.is_some() { "drawn by the committed seed" } else { "not drawn" }
    );
    result("raffle drawn fairly", problems, ok)
}
