//! `lifecycle`: the whole life of holds under per-buyer caps. Buyers reserve one or two units of
//! a SKU, then confirm (70%), release (20%) or walk away so the hold expires (10%). Each customer
//! (a buyer id) picks one SKU at random and makes three reserves of it, so the caps (4 units and
//! 2 open holds per buyer and SKU) refuse some. Reports each operation's rate and latency.
//!
//! After the sale it waits for every walked-away hold to expire, then checks each SKU by a
//! linearizable read: what is left on sale must be its stock minus the confirmed units, within
//! the units of calls whose outcome the client never learned.

use crate::catalog;
use crate::recorder::Recorder;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use stockraft_client::{Client, Error, call, new_request_id, v1};

pub const HOLD_TTL_MS: u64 = 2_000;
pub const UNITS_PER_BUYER_MAX: u32 = 4;
pub const OPEN_HOLDS_PER_BUYER_MAX: u32 = 2;
/// Reserves one customer (buyer id) makes before the next customer takes the task's place.
const RESERVES_PER_CUSTOMER: u32 = 3;
/// Time after the sale for every walked-away hold to expire: its TTL, plus two rounds of the
/// leader's expiry task (1 s by default), plus margin.
const EXPIRY_WAIT: Duration = Duration::from_millis(HOLD_TTL_MS + 2_500);

#[derive(Clone, Debug)]
pub struct Spec {
    pub skus: usize,
    pub units: u32,
    pub buyers: usize,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OpFigures {
    pub operation: &'static str,
    pub count: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub workload: &'static str,
    pub skus: usize,
    pub units_per_sku: u32,
    pub buyers: usize,
    pub seconds: f64,
    pub operations: Vec<OpFigures>,
    pub refused_by_caps: u64,
    pub refused_out_of_stock: u64,
    pub left_to_expire: u64,
    /// Confirms answered HOLD_EXPIRED: the cluster was slower than the hold's TTL.
    pub confirms_too_late: u64,
    pub unknown: u64,
    pub verdict: String,
    pub problems: Vec<String>,
}

#[derive(Default)]
struct Tally {
    reserve: Recorder,
    confirm: Recorder,
    release: Recorder,
    refused_by_caps: u64,
    refused_out_of_stock: u64,
    left_to_expire: u64,
    confirms_too_late: u64,
    unknown: u64,
}

struct Board {
    skus: Vec<String>,
    confirmed_units: Vec<AtomicU32>,
    /// Units of calls whose outcome is unknown, per SKU.
    uncertain_units: Vec<AtomicU32>,
    stop: AtomicBool,
}

pub async fn run(client: Arc<Client>, spec: &Spec, run_id: &str) -> Result<Report, Error> {
    let rules = v1::SaleRules {
        mode: v1::DeductionMode::PreDeduct as i32,
        hold_ttl_ms: HOLD_TTL_MS,
        units_per_buyer_max: Some(UNITS_PER_BUYER_MAX),
        open_holds_per_buyer_max: Some(OPEN_HOLDS_PER_BUYER_MAX),
        rehold_limit: Some(0),
        ..v1::SaleRules::default()
    };
    let stock = catalog::set_up(&client, run_id, spec.skus, spec.units, rules).await?;
    let board = Arc::new(Board {
        confirmed_units: stock.skus.iter().map(|_| AtomicU32::new(0)).collect(),
        uncertain_units: stock.skus.iter().map(|_| AtomicU32::new(0)).collect(),
        skus: stock.skus.clone(),
        stop: AtomicBool::new(false),
    });
    let started = Instant::now();
    {
        let board = board.clone();
        let seconds = spec.seconds;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            board.stop.store(true, Ordering::Relaxed);
        });
    }
    let tasks: Vec<_> = (0..spec.buyers)
        .map(|id| tokio::spawn(buyer(client.clone(), board.clone(), run_id.to_string(), id, started)))
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        let t = task.await.expect("a buyer task");
        tally.reserve.merge(t.reserve);
        tally.confirm.merge(t.confirm);
        tally.release.merge(t.release);
        tally.refused_by_caps += t.refused_by_caps;
        tally.refused_out_of_stock += t.refused_out_of_stock;
        tally.left_to_expire += t.left_to_expire;
        tally.confirms_too_late += t.confirms_too_late;
        tally.unknown += t.unknown;
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(EXPIRY_WAIT).await;
    let left = catalog::left_on_sale(&client, &stock.skus).await?;
    let mut verdict = "EXACT";
    let mut problems = Vec::new();
    for (i, &left) in left.iter().enumerate() {
        let confirmed = board.confirmed_units[i].load(Ordering::Relaxed);
        let uncertain = board.uncertain_units[i].load(Ordering::Relaxed);
        // Uncertain calls may have taken (a reserve confirmed later, a confirm) or given back
        // (a release) units: the figure must be within them of the certain one.
        let expected = stock.units - confirmed;
        let problem = if left + uncertain < expected {
            Some("UNDERSOLD")
        } else if left > expected + uncertain {
            Some("OVERSOLD")
        } else {
            None
        };
        if let Some(problem) = problem {
            verdict = problem;
            if problems.len() < 5 {
                problems.push(format!(
                    "{problem} {}: {} units, {confirmed} confirmed, {uncertain} uncertain, {left} left on sale",
                    stock.skus[i], stock.units
                ));
            }
        }
    }
    let figures = |operation, recorder: &mut Recorder| OpFigures {
        operation,
        count: recorder.len() as u64,
        per_second: recorder.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: recorder.quantile(0.5).as_secs_f64() * 1e3,
        p99_ms: recorder.quantile(0.99).as_secs_f64() * 1e3,
        max_ms: recorder.quantile(1.0).as_secs_f64() * 1e3,
    };
    Ok(Report {
        workload: "lifecycle",
        skus: spec.skus,
        units_per_sku: spec.units,
        buyers: spec.buyers,
        seconds: elapsed.as_secs_f64(),
        operations: vec![
            figures("reserve", &mut tally.reserve),
            figures("confirm", &mut tally.confirm),
            figures("release", &mut tally.release),
        ],
        refused_by_caps: tally.refused_by_caps,
        refused_out_of_stock: tally.refused_out_of_stock,
        left_to_expire: tally.left_to_expire,
        confirms_too_late: tally.confirms_too_late,
        unknown: tally.unknown,
        verdict: verdict.into(),
        problems,
    })
}

async fn buyer(client: Arc<Client>, board: Arc<Board>, run_id: String, id: usize, started: Instant) -> Tally {
    let mut rng = SmallRng::seed_from_u64(id as u64 + 1);
    let mut tally = Tally::default();
    let (mut customer, mut reserves, mut sequence) = (0u64, 0u32, 0u64);
    let mut sku = rng.random_range(0..board.skus.len());
    while !board.stop.load(Ordering::Relaxed) {
        if reserves == RESERVES_PER_CUSTOMER {
            (customer, reserves) = (customer + 1, 0);
            sku = rng.random_range(0..board.skus.len());
        }
        reserves += 1;
        sequence += 1;
        let quantity = if rng.random_bool(0.7) { 1 } else { 2 };
        let hold = format!("{run_id}-{id}-{sequence}");
        let request = v1::ReserveRequest {
            request_id: new_request_id(),
            hold_id: hold.clone(),
            buyer_id: format!("{run_id}-buyer-{id}-{customer}"),
            lines: vec![v1::Line { sku_id: board.skus[sku].clone(), quantity: i64::from(quantity) }],
            ..v1::ReserveRequest::default()
        };
        let call_started = Instant::now();
        match call!(client, inventory, reserve, request) {
            Ok(_) => tally.reserve.record(started.elapsed(), call_started.elapsed()),
            Err(e) if e.reason() == v1::Reason::LimitExceeded => {
                tally.refused_by_caps += 1;
                continue;
            }
            Err(e) if e.reason() == v1::Reason::OutOfStock => {
                tally.refused_out_of_stock += 1;
                continue;
            }
            Err(Error::Rejected(status)) => panic!("reserve refused: {status:?}"),
            Err(_) => {
                tally.unknown += 1;
                board.uncertain_units[sku].fetch_add(quantity, Ordering::Relaxed);
                continue;
            }
        }
        let fate = rng.random_range(0..100);
        if fate >= 90 {
            tally.left_to_expire += 1;
            continue;
        }
        let call_started = Instant::now();
        let (result, recorder) = if fate < 70 {
            let request = v1::ConfirmRequest { request_id: new_request_id(), hold_id: hold };
            (call!(client, inventory, confirm, request), &mut tally.confirm)
        } else {
            let request = v1::ReleaseRequest { request_id: new_request_id(), hold_id: hold };
            (call!(client, inventory, release, request), &mut tally.release)
        };
        match result {
            Ok(_) => {
                recorder.record(started.elapsed(), call_started.elapsed());
                if fate < 70 {
                    board.confirmed_units[sku].fetch_add(quantity, Ordering::Relaxed);
                }
            }
            Err(e) if e.reason() == v1::Reason::HoldExpired => tally.confirms_too_late += 1,
            Err(Error::Rejected(status)) => panic!("confirm or release refused: {status:?}"),
            Err(_) => {
                tally.unknown += 1;
                board.uncertain_units[sku].fetch_add(quantity, Ordering::Relaxed);
            }
        }
    }
    tally
}
