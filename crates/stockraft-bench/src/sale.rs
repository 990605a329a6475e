//! The sale engine behind `hot`, `spread`, `zipf` and `batch`: buyers, each with its own buyer
//! id and one call outstanding, pick a SKU (always the one, uniformly, or by Zipf popularity)
//! and reserve one unit, alone or `batch` reserves per ReserveBatch call, until every SKU is sold
//! out or the time is up. A SKU answered OUT_OF_STOCK is marked sold out for everyone, as a
//! storefront would show it.
//!
//! Every acknowledged hold is counted per SKU, and so is every call whose outcome the client
//! never learned. After the sale a linearizable read per touched SKU gives what is left on
//! sale, and the verdict follows per SKU:
//! - OVERSOLD if acknowledged + left > units (a unit was sold twice);
//! - UNDERSOLD if acknowledged + unknown + left < units (units vanished), or if a sold-out sale
//!   left units on sale (a buyer was refused while stock remained);
//! - EXACT otherwise.

use crate::catalog::{self, Stock};
use crate::recorder::{Point, Recorder};
use futures_util::future::BoxFuture;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use stockraft_client::{Client, Error, call, new_request_id, v1};

/// How buyers choose a SKU.
#[derive(Clone, Copy, Debug)]
pub enum Picker {
    /// Every SKU equally likely.
    Uniform,
    /// SKU `k` (from 1) with probability proportional to 1 / k^s.
    Zipf(f64),
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub workload: &'static str,
    pub skus: usize,
    pub units: u32,
    pub buyers: usize,
    pub picker: Picker,
    /// Reserves per call: 1 is one reserve per buyer call, more uses ReserveBatch.
    pub batch: usize,
    /// How a one-reserve call travels (with `batch` 1).
    pub calls: Calls,
    /// Stop after this long even if stock remains (`None`: until sold out).
    pub seconds: Option<f64>,
}

/// How each buyer's reserve reaches the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Calls {
    /// `Client::reserve`: concurrent reserves packed into ReserveBatch calls, as an order
    /// service embedding the Rust client sends them.
    Coalesced,
    /// Every reserve its own unary gRPC `Reserve` call, nothing coalesced: what a plain Java or
    /// Python client sends.
    Unary,
}

impl Calls {
    pub fn name(self) -> &'static str {
        match self {
            Calls::Coalesced => "coalesced",
            Calls::Unary => "unary",
        }
    }
}

/// Something done to the cluster during the sale, when `at` says; the future performs it and
/// says what it did. A sale that ends first leaves it undone, and the report says so.
pub struct Fault {
    pub at: When,
    pub action: BoxFuture<'static, String>,
}

/// When a fault strikes: a time into the sale, or once a share of the stock is acknowledged
/// (which does not depend on how fast this machine sells).
/// How often a `--kill-leader-at N%` trigger sums what has been acknowledged. The sum reads one
/// counter per SKU (100,000 in `zipf`): every millisecond, that is 10^8 loads a second in the
/// benchmark's own client (not measured). At 60,000 reserves/s, 10 ms is a granularity of 600
/// units.
const SOLD_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The latest `--kill-leader-at` time: a day. Beyond it the figure is surely a typo, and
/// `Duration::from_secs_f64` would panic on values past `u64::MAX` seconds.
pub const KILL_AT_SECONDS_MAX: f64 = 86_400.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum When {
    After(Duration),
    /// A fraction in (0, 1) of all units on sale.
    Sold(f64),
}

impl When {
    /// `2`, `2s` or `0.5s` (seconds into the sale), or `30%` (of the stock acknowledged).
    pub fn parse(text: &str) -> Result<When, String> {
        let bad = || format!("--kill-leader-at takes seconds (2, 0.5s) or a share of the stock (30%), not {text:?}");
        if let Some(percent) = text.strip_suffix('%') {
            let p: f64 = percent.trim().parse().map_err(|_| bad())?;
            if !(p > 0.0 && p < 100.0) {
                return Err(format!("--kill-leader-at {text}: a share of the stock must be above 0% and below 100%"));
            }
            return Ok(When::Sold(p / 100.0));
        }
        let seconds: f64 = text.strip_suffix('s').unwrap_or(text).trim().parse().map_err(|_| bad())?;
        if !(seconds > 0.0 && seconds <= KILL_AT_SECONDS_MAX) {
            return Err(format!(
                "--kill-leader-at {text}: the time must be above 0 and at most {KILL_AT_SECONDS_MAX} seconds"
            ));
        }
        Ok(When::After(Duration::from_secs_f64(seconds)))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub workload: &'static str,
    pub skus: usize,
    pub units_per_sku: u32,
    pub buyers: usize,
    pub batch: usize,
    pub calls: Calls,
    pub acknowledged: u64,
    /// Calls whose outcome the client never learned (timeouts): they may or may not hold units.
    pub unknown: u64,
    pub seconds: f64,
    pub reserves_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// SKUs checked after the sale (every SKU a buyer touched).
    pub skus_checked: usize,
    pub left_on_sale: u64,
    /// EXACT, OVERSOLD or UNDERSOLD.
    pub verdict: String,
    /// The first SKUs that were not EXACT, with their figures.
    pub problems: Vec<String>,
    pub fault: Option<FaultReport>,
    #[serde(skip)]
    pub series: Vec<Point>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FaultReport {
    /// When it struck, in seconds into the sale; `None` when the sale ended first.
    pub at_seconds: Option<f64>,
    pub what: String,
    /// The longest time without an acknowledgement from the fault on: how long writes stalled.
    pub writes_stalled_ms: Option<f64>,
    pub longest_gap_ms: f64,
}

/// Shared between buyers: what each SKU sold, and which are sold out.
struct Board {
    skus: Vec<String>,
    acknowledged: Vec<AtomicU32>,
    unknown: Vec<AtomicU32>,
    touched: Vec<AtomicBool>,
    sold_out: Vec<AtomicBool>,
    sold_out_count: AtomicUsize,
    stop: AtomicBool,
}

impl Board {
    fn mark_sold_out(&self, sku: usize) {
        if !self.sold_out[sku].swap(true, Ordering::Relaxed)
            && self.sold_out_count.fetch_add(1, Ordering::Relaxed) + 1 == self.skus.len()
        {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

struct Chooser {
    rng: SmallRng,
    picker: Picker,
    zipf: Option<Zipf<f64>>,
    skus: usize,
}

impl Chooser {
    fn new(picker: Picker, skus: usize, seed: u64) -> Chooser {
        let zipf = match picker {
            Picker::Zipf(s) => Some(Zipf::new(skus as f64, s).expect("a valid Zipf exponent")),
            Picker::Uniform => None,
        };
        Chooser { rng: SmallRng::seed_from_u64(seed), picker, zipf, skus }
    }

    /// A SKU not known to be sold out, or `None` when the board says all are.
    fn pick(&mut self, board: &Board) -> Option<usize> {
        loop {
            if board.stop.load(Ordering::Relaxed) {
                return None;
            }
            let sku = match (self.picker, &self.zipf) {
                (Picker::Zipf(_), Some(zipf)) => (zipf.sample(&mut self.rng) as usize).clamp(1, self.skus) - 1,
                _ => self.rng.random_range(0..self.skus),
            };
            if !board.sold_out[sku].load(Ordering::Relaxed) {
                return Some(sku);
            }
        }
    }
}

pub async fn run(client: Arc<Client>, spec: &Spec, run_id: &str, fault: Option<Fault>) -> Result<Report, Error> {
    assert!(spec.skus > 0 && spec.units > 0 && spec.buyers > 0 && spec.batch > 0, "checked by the caller");
    let stock = catalog::set_up(&client, run_id, spec.skus, spec.units, catalog::plain_rules()).await?;
    let board = Arc::new(Board {
        acknowledged: stock.skus.iter().map(|_| AtomicU32::new(0)).collect(),
        unknown: stock.skus.iter().map(|_| AtomicU32::new(0)).collect(),
        touched: stock.skus.iter().map(|_| AtomicBool::new(false)).collect(),
        sold_out: stock.skus.iter().map(|_| AtomicBool::new(false)).collect(),
        sold_out_count: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        skus: stock.skus.clone(),
    });
    let started = Instant::now();
    let sale_over = Arc::new(tokio::sync::Notify::new());
    let fault_task = fault.map(|fault| {
        let (board, sale_over) = (board.clone(), sale_over.clone());
        let total = stock.skus.len() as f64 * f64::from(spec.units);
        tokio::spawn(async move {
            let due = async {
                match fault.at {
                    When::After(at) => tokio::time::sleep_until((started + at).into()).await,
                    When::Sold(share) => {
                        while (board.acknowledged.iter().map(|a| a.load(Ordering::Relaxed) as f64).sum::<f64>())
                            < share * total
                        {
                            tokio::time::sleep(SOLD_POLL_INTERVAL).await;
                        }
                    }
                }
            };
            // A sale that is over wins a tie: a node is never killed after the last buyer stopped.
            tokio::select! {
                biased;
                () = sale_over.notified() => None,
                () = due => {
                    let at = started.elapsed();
                    Some((at, fault.action.await))
                }
            }
        })
    });
    if let Some(seconds) = spec.seconds {
        let board = board.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until((started + Duration::from_secs_f64(seconds)).into()).await;
            board.stop.store(true, Ordering::Relaxed);
        });
    }
    let tasks: Vec<_> = (0..spec.buyers)
        .map(|id| {
            let (client, board, run_id) = (client.clone(), board.clone(), run_id.to_string());
            let chooser = Chooser::new(spec.picker, spec.skus, id as u64 + 1);
            tokio::spawn(buyer(client, board, run_id, id, chooser, (spec.batch, spec.calls), started))
        })
        .collect();
    let mut recorder = Recorder::default();
    for task in tasks {
        recorder.merge(task.await.expect("a buyer task"));
    }
    let elapsed = started.elapsed();
    sale_over.notify_one();
    let longest_gap_ms = recorder.longest_gap().as_secs_f64() * 1e3;
    let fault = match fault_task.map(|task| async { task.await.expect("the fault task") }) {
        Some(task) => Some(match task.await {
            Some((at, what)) => FaultReport {
                at_seconds: Some(at.as_secs_f64()),
                what,
                writes_stalled_ms: recorder.stall_after(at).map(|d| d.as_secs_f64() * 1e3),
                longest_gap_ms,
            },
            None => FaultReport {
                at_seconds: None,
                what: format!(
                    "not injected: the sale ended after {:.2} s, before the fault was due",
                    elapsed.as_secs_f64()
                ),
                writes_stalled_ms: None,
                longest_gap_ms,
            },
        }),
        None => None,
    };
    let verdict = verify(&client, &board, &stock, spec.seconds.is_none()).await?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(Report {
        workload: spec.workload,
        skus: spec.skus,
        units_per_sku: spec.units,
        buyers: spec.buyers,
        batch: spec.batch,
        calls: spec.calls,
        acknowledged: recorder.len() as u64,
        unknown: board.unknown.iter().map(|u| u64::from(u.load(Ordering::Relaxed))).sum(),
        seconds: elapsed.as_secs_f64(),
        reserves_per_second: recorder.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: ms(recorder.quantile(0.50)),
        p99_ms: ms(recorder.quantile(0.99)),
        max_ms: ms(recorder.quantile(1.0)),
        skus_checked: verdict.checked,
        left_on_sale: verdict.left,
        verdict: verdict.verdict.into(),
        problems: verdict.problems,
        fault,
        series: recorder.series(),
    })
}

struct Verdict {
    checked: usize,
    left: u64,
    verdict: &'static str,
    problems: Vec<String>,
}

/// At most this many problem SKUs are named in a report.
const PROBLEMS_SHOWN: usize = 5;

async fn verify(client: &Client, board: &Board, stock: &Stock, sold_out_sale: bool) -> Result<Verdict, Error> {
    let touched: Vec<usize> = (0..stock.skus.len()).filter(|&i| board.touched[i].load(Ordering::Relaxed)).collect();
    let names: Vec<String> = touched.iter().map(|&i| stock.skus[i].clone()).collect();
    let left = catalog::left_on_sale(client, &names).await?;
    let mut verdict = "EXACT";
    let mut problems = Vec::new();
    for (&i, &left) in touched.iter().zip(&left) {
        let acknowledged = board.acknowledged[i].load(Ordering::Relaxed);
        let unknown = board.unknown[i].load(Ordering::Relaxed);
        let problem = if acknowledged + left > stock.units {
            Some("OVERSOLD")
        } else if acknowledged + unknown + left < stock.units || (sold_out_sale && left > 0) {
            Some("UNDERSOLD")
        } else {
            None
        };
        if let Some(problem) = problem {
            if verdict != "OVERSOLD" {
                verdict = problem;
            }
            if problems.len() < PROBLEMS_SHOWN {
                problems.push(format!(
                    "{problem} {}: {} units, {acknowledged} acknowledged, {unknown} unknown, {left} left on sale",
                    stock.skus[i], stock.units
                ));
            }
        }
    }
    Ok(Verdict { checked: touched.len(), left: left.iter().map(|&l| u64::from(l)).sum(), verdict, problems })
}

/// One buyer: pick a SKU, reserve (one unit per reserve, `batch` reserves per call), repeat.
async fn buyer(
    client: Arc<Client>,
    board: Arc<Board>,
    run_id: String,
    id: usize,
    mut chooser: Chooser,
    (batch, calls): (usize, Calls),
    started: Instant,
) -> Recorder {
    let mut recorder = Recorder::default();
    let mut sequence = 0u64;
    while let Some(sku) = chooser.pick(&board) {
        board.touched[sku].store(true, Ordering::Relaxed);
        let mut reserve = || {
            sequence += 1;
            v1::ReserveRequest {
                request_id: new_request_id(),
                hold_id: format!("{run_id}-{id}-{sequence}"),
                // Each reserve of a batch stands for another buyer of this client's platform.
                buyer_id: format!("{run_id}-buyer-{id}-{}", if batch == 1 { 0 } else { sequence }),
                lines: vec![v1::Line { sku_id: board.skus[sku].clone(), quantity: 1 }],
                ..v1::ReserveRequest::default()
            }
        };
        let call_started = Instant::now();
        if batch == 1 {
            let answer = match calls {
                Calls::Coalesced => client.reserve(reserve()).await,
                Calls::Unary => call!(client, inventory, reserve, reserve()),
            };
            match answer {
                Ok(_) => {
                    board.acknowledged[sku].fetch_add(1, Ordering::Relaxed);
                    recorder.record(started.elapsed(), call_started.elapsed());
                }
                Err(e) if e.reason() == v1::Reason::OutOfStock => {
                    recorder.record_refused(call_started.elapsed());
                    board.mark_sold_out(sku);
                }
                Err(Error::Rejected(status)) => panic!("reserve refused: {status:?}"),
                Err(_) => {
                    board.unknown[sku].fetch_add(1, Ordering::Relaxed);
                }
            }
        } else {
            let request = v1::ReserveBatchRequest { reserves: (0..batch).map(|_| reserve()).collect() };
            match call!(client, inventory, reserve_batch, request) {
                Ok(reply) => {
                    let mut held = 0;
                    for outcome in reply.outcomes {
                        match outcome.outcome {
                            Some(v1::reserve_outcome::Outcome::Held(_)) => held += 1,
                            Some(v1::reserve_outcome::Outcome::Rejected(detail))
                                if detail.reason == v1::Reason::OutOfStock as i32 =>
                            {
                                recorder.record_refused(call_started.elapsed());
                                board.mark_sold_out(sku)
                            }
                            other => panic!("batch reserve refused: {other:?}"),
                        }
                    }
                    board.acknowledged[sku].fetch_add(held, Ordering::Relaxed);
                    recorder.record_many(held as usize, started.elapsed(), call_started.elapsed());
                }
                Err(Error::Rejected(status)) => panic!("batch reserve refused: {status:?}"),
                Err(_) => {
                    board.unknown[sku].fetch_add(batch as u32, Ordering::Relaxed);
                }
            }
        }
    }
    recorder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_times_parse_and_absurd_ones_are_refused_rather_than_panicked_on() {
        assert_eq!(When::parse("2").unwrap(), When::After(Duration::from_secs(2)));
        assert_eq!(When::parse("0.5s").unwrap(), When::After(Duration::from_millis(500)));
        assert_eq!(When::parse("30%").unwrap(), When::Sold(0.3));
        assert!(When::parse("1e300").unwrap_err().contains("at most 86400 seconds"));
        for bad in ["0", "-1", "inf", "NaN", "100%", "soon"] {
            assert!(When::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
