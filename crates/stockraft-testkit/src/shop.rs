//! The shop the tests sell from: one warehouse, one item, one PRE_DEDUCT SKU of it; and the
//! calls a test makes on it, through the cluster or on one node's own state.

use crate::cluster::Cluster;
use stockraft_client::{Client, Error, call, new_request_id, v1};

pub const WAREHOUSE: &str = "sh-01";
pub const ITEM: &str = "moutai-500ml";
pub const SKU: &str = "moutai-flash";

/// A warehouse, an item with `units` on hand, and a PRE_DEDUCT SKU of it with `ttl_ms` holds
/// and at most `per_buyer` units per buyer.
pub async fn set_up_shop(client: &Client, units: i64, ttl_ms: u64, per_buyer: Option<u32>) {
    let warehouse = v1::Warehouse {
        id: WAREHOUSE.into(),
        name: "Shanghai".into(),
        region: "east".into(),
        priority: 1,
        active: Some(true),
    };
    call!(
        client,
        catalog,
        upsert_warehouse,
        v1::UpsertWarehouseRequest { request_id: new_request_id(), warehouse: Some(warehouse) }
    )
    .expect("warehouse");
    let item = v1::Item { id: ITEM.into(), name: "Moutai 500 ml".into() };
    call!(client, catalog, upsert_item, v1::UpsertItemRequest { request_id: new_request_id(), item: Some(item) })
        .expect("item");
    let rules = v1::SaleRules {
        mode: v1::DeductionMode::PreDeduct as i32,
        hold_ttl_ms: ttl_ms,
        units_per_buyer_max: per_buyer,
        ..v1::SaleRules::default()
    };
    let sku = v1::UpsertSkuRequest {
        request_id: new_request_id(),
        sku_id: SKU.into(),
        components: vec![v1::Component { item_id: ITEM.into(), quantity: 1 }],
        rules: Some(rules),
    };
    call!(client, catalog, upsert_sku, sku).expect("sku");
    let stock = v1::ReceiveStockRequest {
        request_id: new_request_id(),
        item_id: ITEM.into(),
        warehouse_id: WAREHOUSE.into(),
        units,
        note: "test stock".into(),
    };
    call!(client, catalog, receive_stock, stock).expect("stock");
}

pub fn reserve_request(hold: &str, buyer: &str, quantity: i64) -> v1::ReserveRequest {
    v1::ReserveRequest {
        request_id: new_request_id(),
        hold_id: hold.into(),
        buyer_id: buyer.into(),
        lines: vec![v1::Line { sku_id: SKU.into(), quantity }],
        ..v1::ReserveRequest::default()
    }
}

pub async fn reserve(client: &Client, hold: &str, buyer: &str, quantity: i64) -> Result<v1::HoldReply, Error> {
    call!(client, inventory, reserve, reserve_request(hold, buyer, quantity))
}

pub async fn hold_state(client: &Client, hold: &str) -> v1::HoldState {
    let hold = call!(client, inventory, get_hold, v1::GetHoldRequest { hold_id: hold.into(), allow_stale: false })
        .expect("the hold");
    v1::HoldState::try_from(hold.state).expect("a known state")
}

/// The SKU's availability, read linearizably (through the leader).
pub async fn availability(client: &Client) -> Result<v1::Availability, Error> {
    call!(client, inventory, get_availability, v1::GetAvailabilityRequest { sku_id: SKU.into(), allow_stale: false })
}

/// Node `id`'s own (possibly stale) on-hand units of the SKU, if it answers.
pub async fn local_availability(cluster: &Cluster, id: u64) -> Option<u32> {
    let client = cluster.client_of(id);
    let request = v1::GetAvailabilityRequest { sku_id: SKU.into(), allow_stale: true };
    call!(client, inventory, get_availability, request).ok().map(|a| a.sellable_units)
}

/// Node `id`'s own ledger entries of one operation, as (log index, hold) pairs.
pub async fn local_ledger(cluster: &Cluster, id: u64, op: v1::LedgerOp) -> Vec<(u64, String)> {
    let client = cluster.client_of(id);
    let query =
        v1::QueryLedgerRequest { op: op as i32, allow_stale: true, limit: 10_000, ..v1::QueryLedgerRequest::default() };
    let page = call!(client, catalog, query_ledger, query).expect("a ledger page");
    page.entries.into_iter().map(|e| (e.log_index, e.hold_id)).collect()
}
