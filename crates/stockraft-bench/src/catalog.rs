//! Sets up what a sale sells: one warehouse, and per SKU an item, the SKU (one unit of the item
//! per unit sold) and its stock. Names carry the run id, so repeated runs share a cluster
//! without seeing each other's stock. Many SKUs are created concurrently (they are ordinary
//! writes, batched by the leader like any other).

use futures_util::{StreamExt, TryStreamExt, stream};
use stockraft_client::{Client, Error, call, new_request_id, v1};

pub const WAREHOUSE: &str = "bench-wh";
/// Set-up writes in flight at once.
const SETUP_CONCURRENCY: usize = 128;

/// The SKUs of one run, all with the same stock and rules.
#[derive(Clone, Debug)]
pub struct Stock {
    pub skus: Vec<String>,
    pub units: u32,
}

pub async fn set_up(client: &Client, run: &str, skus: usize, units: u32, rules: v1::SaleRules) -> Result<Stock, Error> {
    let warehouse = v1::Warehouse {
        id: WAREHOUSE.into(),
        name: "bench".into(),
        region: "east".into(),
        priority: 1,
        active: Some(true),
    };
    call!(
        client,
        catalog,
        upsert_warehouse,
        v1::UpsertWarehouseRequest { request_id: new_request_id(), warehouse: Some(warehouse) }
    )?;
    let names: Vec<String> = (0..skus).map(|i| format!("bench-{run}-{i}")).collect();
    stream::iter(names.iter().cloned().map(Ok))
        .try_for_each_concurrent(SETUP_CONCURRENCY, |sku| {
            let rules = rules.clone();
            async move { one_sku(client, &sku, units, rules).await }
        })
        .await?;
    Ok(Stock { skus: names, units })
}

async fn one_sku(client: &Client, sku: &str, units: u32, rules: v1::SaleRules) -> Result<(), Error> {
    let item = format!("{sku}-item");
    let request = v1::UpsertItemRequest {
        request_id: new_request_id(),
        item: Some(v1::Item { id: item.clone(), name: "bench item".into() }),
    };
    call!(client, catalog, upsert_item, request)?;
    let request = v1::UpsertSkuRequest {
        request_id: new_request_id(),
        sku_id: sku.to_string(),
        components: vec![v1::Component { item_id: item.clone(), quantity: 1 }],
        rules: Some(rules),
    };
    call!(client, catalog, upsert_sku, request)?;
    let request = v1::ReceiveStockRequest {
        request_id: new_request_id(),
        item_id: item,
        warehouse_id: WAREHOUSE.into(),
        units: i64::from(units),
        note: "stockbench".into(),
    };
    call!(client, catalog, receive_stock, request)?;
    Ok(())
}

/// Units still on sale per SKU, by linearizable reads (in the order of `skus`).
pub async fn left_on_sale(client: &Client, skus: &[String]) -> Result<Vec<u32>, Error> {
    stream::iter(skus.iter().cloned())
        .map(|sku| async move {
            let request = v1::GetAvailabilityRequest { sku_id: sku, allow_stale: false };
            call!(client, inventory, get_availability, request).map(|a| a.sellable_units)
        })
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await
}

/// The default rules: PRE_DEDUCT with the default 20-minute TTL (no hold expires mid-sale)
/// and no per-buyer caps.
pub fn plain_rules() -> v1::SaleRules {
    v1::SaleRules { mode: v1::DeductionMode::PreDeduct as i32, ..v1::SaleRules::default() }
}
