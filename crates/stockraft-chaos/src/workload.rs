//! The flash sale: a few hot SKUs with little stock, per-buyer caps and short hold TTLs; many
//! concurrent buyers reserving, then confirming, confirming too late (which re-holds and pays
//! when stock is there), releasing, walking away (so the hold expires) or coming back after the
//! expiry to re-hold; linearizable availability reads; and a restocker that keeps stock
//! trickling in, so the sale stays at the edge of sold out, where oversells happen.

use crate::history::{Call, History, Outcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use stockraft_client::{Client, Error, call, new_request_id, v1};

/// The sale's shape. Defaults: 64 buyers on 3 SKUs of 3 warehouses x 12 units.
#[derive(Clone, Debug)]
pub struct Sale {
    pub buyers: usize,
    pub skus: usize,
    pub units_per_warehouse: u32,
    pub hold_ttl_ms: u64,
    /// Units one buyer may hold or have bought of one SKU.
    pub units_per_buyer_max: u32,
    pub open_holds_per_buyer_max: u32,
    /// Re-holds one hold may have (SaleRules.rehold_limit); the grace window is
    /// [`REHOLD_GRACE_MS`], longer than any run.
    pub rehold_limit: u32,
    /// Distinct buyer ids the workers draw from (small, so caps bite).
    pub buyer_pool: u32,
    pub restock_every: Duration,
    pub seed: u64,
}

impl Default for Sale {
    fn default() -> Self {
        Sale {
            buyers: 64,
            skus: 3,
            units_per_warehouse: 12,
            hold_ttl_ms: 1_500,
            units_per_buyer_max: 4,
            open_holds_per_buyer_max: 2,
            rehold_limit: 1,
            buyer_pool: 120,
            restock_every: Duration::from_millis(40),
            seed: 1,
        }
    }
}

/// The shop's re-hold grace window: ten minutes, longer than any run, so that whether a
/// re-hold is allowed never depends on clocks the checkers cannot see exactly.
pub const REHOLD_GRACE_MS: u64 = 600_000;

pub const WAREHOUSES: [(&str, &str, u32); 3] =
    [("wh-east", "east", 1), ("wh-west", "west", 2), ("wh-north", "north", 3)];

pub fn sku_id(sku: usize) -> String {
    format!("flash-{sku}")
}

pub fn item_id(sku: usize) -> String {
    format!("item-{sku}")
}

/// Units of each SKU on sale before the first buyer arrives.
pub fn initial_units(sale: &Sale) -> u32 {
    sale.units_per_warehouse * WAREHOUSES.len() as u32
}

/// Creates the warehouses, items, SKUs (PRE_DEDUCT, re-holds allowed, split allowed) and stock.
pub async fn set_up_shop(client: &Client, sale: &Sale) -> Result<(), Error> {
    for (id, region, priority) in WAREHOUSES {
        let warehouse =
            v1::Warehouse { id: id.into(), name: id.into(), region: region.into(), priority, active: Some(true) };
        let request = v1::UpsertWarehouseRequest { request_id: new_request_id(), warehouse: Some(warehouse) };
        call!(client, catalog, upsert_warehouse, request)?;
    }
    for sku in 0..sale.skus {
        let item = v1::Item { id: item_id(sku), name: format!("flash item {sku}") };
        call!(client, catalog, upsert_item, v1::UpsertItemRequest { request_id: new_request_id(), item: Some(item) })?;
        let rules = v1::SaleRules {
            mode: v1::DeductionMode::PreDeduct as i32,
            hold_ttl_ms: sale.hold_ttl_ms,
            units_per_buyer_max: Some(sale.units_per_buyer_max),
            open_holds_per_buyer_max: Some(sale.open_holds_per_buyer_max),
            rehold_limit: Some(sale.rehold_limit),
            rehold_grace_ms: Some(REHOLD_GRACE_MS),
            allow_split: true,
            ..v1::SaleRules::default()
        };
        let request = v1::UpsertSkuRequest {
            request_id: new_request_id(),
            sku_id: sku_id(sku),
            components: vec![v1::Component { item_id: item_id(sku), quantity: 1 }],
            rules: Some(rules),
        };
        call!(client, catalog, upsert_sku, request)?;
        for (warehouse, _, _) in WAREHOUSES {
            let request = v1::ReceiveStockRequest {
                request_id: new_request_id(),
                item_id: item_id(sku),
                warehouse_id: warehouse.into(),
                units: i64::from(sale.units_per_warehouse),
                note: "chaos: opening stock".into(),
            };
            call!(client, catalog, receive_stock, request)?;
        }
    }
    Ok(())
}

/// The outcome of a failed call: a final rejection, or unknown.
pub(crate) fn failure(error: &Error) -> Outcome {
    match error {
        Error::Rejected(status) => {
            let detail = stockraft_client::error_detail(status);
            let refusal = detail.as_ref().map_or(v1::ReholdRefusal::Unspecified, |d| d.rehold_refusal());
            Outcome::Rejected {
                reason: stockraft_client::reason_name(error.reason()).to_string(),
                rehold_refusal: match refusal {
                    v1::ReholdRefusal::Unspecified => String::new(),
                    named => named.as_str_name().trim_start_matches("REHOLD_REFUSAL_").to_string(),
                },
                message: format!("{:?}: {}", status.code(), status.message()),
                log_index: detail.map_or(0, |d| d.log_index),
            }
        }
        other => Outcome::Unknown { error: other.to_string() },
    }
}

fn hold_outcome(result: Result<v1::HoldReply, Error>, ok: fn(u64) -> Outcome) -> Outcome {
    result.map_or_else(|e| failure(&e), |reply| ok(reply.log_index))
}

/// Sends `call` and records it.
pub async fn perform(client: &Client, history: &History, process: usize, call: Call) -> Outcome {
    if matches!(
        call,
        Call::Wait { .. } | Call::Leave { .. } | Call::Pay { .. } | Call::Enter { .. } | Call::Draw { .. }
    ) {
        return crate::fair::perform(client, history, process, call).await;
    }
    let invoked = history.invocation();
    let outcome = match &call {
        Call::Reserve { sku, hold, buyer, quantity, request_id } => {
            let request = v1::ReserveRequest {
                request_id: request_id.clone(),
                hold_id: hold.clone(),
                buyer_id: format!("buyer-{buyer}"),
                lines: vec![v1::Line { sku_id: sku_id(*sku), quantity: i64::from(*quantity) }],
                ..v1::ReserveRequest::default()
            };
            // Through the client's batching, as an order service sends reserves: the checkers
            // then hold the batched path to the same rules as every other call.
            match client.reserve(request).await {
                Ok(reply) => {
                    Outcome::Held { expires_at_ms: reply.expires_at_ms.unwrap_or(0), log_index: reply.log_index }
                }
                Err(e) => failure(&e),
            }
        }
        Call::Confirm { hold, request_id, .. } => {
            let request = v1::ConfirmRequest { request_id: request_id.clone(), hold_id: hold.clone() };
            hold_outcome(call!(client, inventory, confirm, request), |log_index| Outcome::Confirmed { log_index })
        }
        Call::Release { hold, request_id, .. } => {
            let request = v1::ReleaseRequest { request_id: request_id.clone(), hold_id: hold.clone() };
            hold_outcome(call!(client, inventory, release, request), |log_index| Outcome::Released { log_index })
        }
        Call::Rehold { hold, request_id, .. } => {
            let request = v1::ReholdRequest { request_id: request_id.clone(), hold_id: hold.clone() };
            match call!(client, inventory, rehold, request) {
                Ok(reply) => {
                    Outcome::Held { expires_at_ms: reply.expires_at_ms.unwrap_or(0), log_index: reply.log_index }
                }
                Err(e) => failure(&e),
            }
        }
        Call::Read { sku } => {
            let request = v1::GetAvailabilityRequest { sku_id: sku_id(*sku), allow_stale: false };
            match call!(client, inventory, get_availability, request) {
                Ok(availability) => Outcome::Available {
                    units: availability.sellable_units,
                    as_of_log_index: availability.as_of_log_index,
                },
                Err(e) => failure(&e),
            }
        }
        Call::Restock { sku, warehouse, units, request_id } => {
            let request = v1::ReceiveStockRequest {
                request_id: request_id.clone(),
                item_id: item_id(*sku),
                warehouse_id: warehouse.clone(),
                units: i64::from(*units),
                note: "chaos: restock".into(),
            };
            match call!(client, catalog, receive_stock, request) {
                Ok(level) => Outcome::Restocked { log_index: level.log_index },
                Err(e) => failure(&e),
            }
        }
        fair => unreachable!("sent by fair::perform: {fair:?}"),
    };
    history.record(process, call, invoked, outcome.clone());
    outcome
}

/// What a buyer does with a hold it got.
enum Fate {
    Confirm,
    ConfirmLate,
    Release,
    WalkAway,
    /// Back after the expiry: re-hold, then pay, release, or let it lapse and confirm late.
    ComeBack,
}

/// One buyer process: reserve, then confirm, release or walk away, until `stop`.
pub async fn buyer(process: usize, client: Arc<Client>, history: History, sale: Sale, stop: Arc<AtomicBool>) {
    let mut rng = StdRng::seed_from_u64(sale.seed.wrapping_mul(1_000_003).wrapping_add(process as u64));
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let sku = rng.random_range(0..sale.skus);
        if rng.random_bool(0.08) {
            perform(&client, &history, process, Call::Read { sku }).await;
            continue;
        }
        sequence += 1;
        let hold = format!("h{process}-{sequence}");
        let reserve = Call::Reserve {
            sku,
            hold: hold.clone(),
            buyer: rng.random_range(0..sale.buyer_pool),
            quantity: if rng.random_bool(0.8) { 1 } else { 2 },
            request_id: new_request_id(),
        };
        let mut outcome = perform(&client, &history, process, reserve.clone()).await;
        if outcome.is_unknown() && !stop.load(Ordering::Relaxed) {
            // What an order platform does after a timeout: ask again with the same request id
            // (the answer is the first application's, never a second hold).
            outcome = perform(&client, &history, process, reserve).await;
        }
        if !matches!(outcome, Outcome::Held { .. }) {
            // A refused buyer tries again soon, but not in a tight loop.
            tokio::time::sleep(Duration::from_millis(rng.random_range(10..40))).await;
            continue;
        }
        let fate = match rng.random_range(0..100) {
            0..45 => Fate::Confirm,
            45..53 => Fate::ConfirmLate,
            53..75 => Fate::Release,
            75..88 => Fate::ComeBack,
            _ => Fate::WalkAway,
        };
        let request_id = new_request_id();
        match fate {
            Fate::Confirm => {
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
                perform(&client, &history, process, Call::Confirm { sku, hold, request_id }).await;
            }
            Fate::ConfirmLate => {
                let late = sale.hold_ttl_ms + rng.random_range(100..400);
                tokio::time::sleep(Duration::from_millis(late)).await;
                perform(&client, &history, process, Call::Confirm { sku, hold, request_id }).await;
            }
            Fate::Release => {
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..200))).await;
                perform(&client, &history, process, Call::Release { sku, hold, request_id }).await;
            }
            Fate::ComeBack => come_back(&client, &history, process, (sku, hold), &sale, &mut rng).await,
            Fate::WalkAway => {}
        }
    }
}

/// The buyer returns to the payment page after the hold expired and re-holds (asking again
/// with the same request id if the answer was lost); with the hold back, pays soon, releases,
/// or lets it lapse again and confirms late (which the re-hold limit then decides).
async fn come_back(
    client: &Client,
    history: &History,
    process: usize,
    (sku, hold): (usize, String),
    sale: &Sale,
    rng: &mut StdRng,
) {
    tokio::time::sleep(Duration::from_millis(sale.hold_ttl_ms + rng.random_range(100..400))).await;
    let rehold = Call::Rehold { sku, hold: hold.clone(), request_id: new_request_id() };
    let mut outcome = perform(client, history, process, rehold.clone()).await;
    if outcome.is_unknown() {
        outcome = perform(client, history, process, rehold).await;
    }
    if !matches!(outcome, Outcome::Held { .. }) {
        return;
    }
    let request_id = new_request_id();
    let (wait, call) = match rng.random_range(0..100) {
        0..60 => (rng.random_range(0..150), Call::Confirm { sku, hold, request_id }),
        60..80 => (rng.random_range(0..200), Call::Release { sku, hold, request_id }),
        _ => (sale.hold_ttl_ms + rng.random_range(100..400), Call::Confirm { sku, hold, request_id }),
    };
    tokio::time::sleep(Duration::from_millis(wait)).await;
    perform(client, history, process, call).await;
}

/// Receives a few units into a random warehouse every `restock_every`, until `stop`.
pub async fn restocker(process: usize, client: Arc<Client>, history: History, sale: Sale, stop: Arc<AtomicBool>) {
    let mut rng = StdRng::seed_from_u64(sale.seed.wrapping_mul(7_919));
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(sale.restock_every).await;
        let call = Call::Restock {
            sku: rng.random_range(0..sale.skus),
            warehouse: WAREHOUSES[rng.random_range(0..WAREHOUSES.len())].0.into(),
            units: rng.random_range(1..=3),
            request_id: new_request_id(),
        };
        perform(&client, &history, process, call).await;
    }
}
