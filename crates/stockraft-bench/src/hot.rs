//! `hot`: one SKU with `units` units; `buyers` concurrent buyers, each with its own buyer id,
//! reserve one unit at a time until the SKU is sold out. Reports the sell-out time, reserves
//! per second and latency, and checks that exactly `units` reserves succeeded.

use crate::latency::Latencies;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use stockraft_client::{Client, Error, call, new_request_id, v1};

#[derive(Clone, Debug)]
pub struct Hot {
    pub units: u32,
    pub buyers: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct HotReport {
    pub workload: &'static str,
    pub units: u32,
    pub buyers: usize,
    pub sku: String,
    pub acknowledged: u64,
    /// Calls whose outcome the client never learned (timeouts): they may or may not hold a unit.
    pub unknown: u64,
    pub sell_out_seconds: f64,
    pub reserves_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Units still on sale after the sale, by a linearizable read.
    pub left_on_sale: u32,
    /// EXACT, OVERSOLD or UNDERSOLD.
    pub verdict: String,
}

const WAREHOUSE: &str = "bench-wh";

/// Creates a fresh SKU (named after `run`, so repeated runs share a cluster) with `units` units.
async fn set_up(client: &Client, run: &str, units: u32) -> Result<String, Error> {
    let warehouse =
        v1::Warehouse { id: WAREHOUSE.into(), name: "bench".into(), region: "east".into(), priority: 1, active: true };
    call!(
        client,
        catalog,
        upsert_warehouse,
        v1::UpsertWarehouseRequest { request_id: new_request_id(), warehouse: Some(warehouse) }
    )?;
    let item = format!("bench-item-{run}");
    let sku = format!("bench-hot-{run}");
    let request = v1::UpsertItemRequest {
        request_id: new_request_id(),
        item: Some(v1::Item { id: item.clone(), name: "bench item".into() }),
    };
    call!(client, catalog, upsert_item, request)?;
    let request = v1::UpsertSkuRequest {
        request_id: new_request_id(),
        sku_id: sku.clone(),
        components: vec![v1::Component { item_id: item.clone(), quantity: 1 }],
        // The default rules: PRE_DEDUCT with a 20-minute TTL, so no hold expires mid-sale.
        rules: Some(v1::SaleRules { mode: v1::DeductionMode::PreDeduct as i32, ..v1::SaleRules::default() }),
    };
    call!(client, catalog, upsert_sku, request)?;
    let request = v1::StockFigureRequest {
        request_id: new_request_id(),
        item_id: item,
        warehouse_id: WAREHOUSE.into(),
        units: i64::from(units),
        note: "stockbench".into(),
    };
    call!(client, catalog, receive_stock, request)?;
    Ok(sku)
}

/// One buyer: reserve one unit at a time until the SKU is sold out.
async fn buyer(
    client: Arc<Client>,
    run: String,
    sku: String,
    id: usize,
    sold_out: Arc<AtomicBool>,
) -> (Latencies, u64) {
    let mut latencies = Latencies::default();
    let mut unknown = 0;
    let mut sequence = 0u64;
    while !sold_out.load(Ordering::Relaxed) {
        sequence += 1;
        let request = v1::ReserveRequest {
            request_id: new_request_id(),
            hold_id: format!("{run}-{id}-{sequence}"),
            buyer_id: format!("{run}-buyer-{id}"),
            lines: vec![v1::Line { sku_id: sku.clone(), quantity: 1 }],
            ..v1::ReserveRequest::default()
        };
        let started = Instant::now();
        match call!(client, inventory, reserve, request) {
            Ok(_) => latencies.record(started.elapsed()),
            Err(e) if e.reason() == v1::Reason::OutOfStock => sold_out.store(true, Ordering::Relaxed),
            Err(Error::Rejected(status)) => panic!("reserve refused: {status:?}"),
            Err(_) => unknown += 1,
        }
    }
    (latencies, unknown)
}

pub async fn run(client: Arc<Client>, hot: &Hot, run: &str) -> Result<HotReport, Error> {
    let sku = set_up(&client, run, hot.units).await?;
    let sold_out = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..hot.buyers)
        .map(|id| tokio::spawn(buyer(client.clone(), run.to_string(), sku.clone(), id, sold_out.clone())))
        .collect();
    let mut latencies = Latencies::default();
    let mut unknown = 0;
    for task in tasks {
        let (l, u) = task.await.expect("a buyer task");
        latencies.merge(l);
        unknown += u;
    }
    let elapsed = started.elapsed();
    let request = v1::GetAvailabilityRequest { sku_id: sku.clone(), allow_stale: false };
    let left = call!(client, inventory, get_availability, request)?.on_hand_units;
    let acknowledged = latencies.len() as u64;
    let verdict = if acknowledged > u64::from(hot.units) {
        "OVERSOLD"
    } else if left > 0 || acknowledged + unknown < u64::from(hot.units) {
        "UNDERSOLD"
    } else {
        "EXACT"
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(HotReport {
        workload: "hot",
        units: hot.units,
        buyers: hot.buyers,
        sku,
        acknowledged,
        unknown,
        sell_out_seconds: elapsed.as_secs_f64(),
        reserves_per_second: acknowledged as f64 / elapsed.as_secs_f64(),
        p50_ms: ms(latencies.quantile(0.50)),
        p99_ms: ms(latencies.quantile(0.99)),
        max_ms: ms(latencies.quantile(1.0)),
        left_on_sale: left,
        verdict: verdict.into(),
    })
}
