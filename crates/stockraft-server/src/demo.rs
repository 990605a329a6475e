//! The demo catalog `make run` loads into an empty ledger: two warehouses, two items, three SKUs
//! (one per deduction mode) and stock, so a newcomer can reserve at once.

use compact_str::CompactString;
use stockraft_core::*;

fn request(id: &str, op: Op) -> Request {
    Request::new(RequestId::new(&format!("demo-{id}")).expect("valid demo id"), op).expect("a valid demo request")
}

fn warehouse(id: &str, name: &str, region: &str, priority: u32) -> Request {
    request(
        &format!("warehouse-{id}"),
        Op::UpsertWarehouse(UpsertWarehouse {
            id: WarehouseId::new(id).expect("valid demo id"),
            name: name.into(),
            region: region.into(),
            priority,
            active: true,
        }),
    )
}

fn item(id: &str, name: &str) -> Request {
    request(
        &format!("item-{id}"),
        Op::UpsertItem(UpsertItem { id: ItemId::new(id).expect("valid demo id"), name: name.into() }),
    )
}

fn sku(id: &str, item: &str, rules: SaleRules) -> Request {
    request(
        &format!("sku-{id}"),
        Op::UpsertSku(UpsertSku {
            id: SkuId::new(id).expect("valid demo id"),
            components: vec![(ItemId::new(item).expect("valid demo id"), 1)],
            rules,
        }),
    )
}

fn stock(item: &str, warehouse: &str, units: u32) -> Request {
    request(
        &format!("stock-{item}-{warehouse}"),
        Op::ReceiveStock(StockFigure {
            item: ItemId::new(item).expect("valid demo id"),
            warehouse: WarehouseId::new(warehouse).expect("valid demo id"),
            units,
            note: CompactString::from("demo catalog"),
        }),
    )
}

/// The demo catalog, in the order it must be applied.
pub fn requests() -> Vec<Request> {
    vec![
        warehouse("sh-01", "Shanghai", "east", 1),
        warehouse("cd-01", "Chengdu", "west", 1),
        item("moutai-500ml", "Moutai 500 ml"),
        item("tea-gift-box", "Tea gift box"),
        // A flash-sale SKU: 2-minute holds, 2 per buyer.
        sku(
            "moutai-flash",
            "moutai-500ml",
            SaleRules { hold_ttl_ms: 120_000, units_per_buyer_max: Some(2), allow_split: true, ..SaleRules::default() },
        ),
        // An everyday SKU held at order until confirmed or released.
        sku("tea-box", "tea-gift-box", SaleRules { mode: DeductionMode::OnOrder, ..SaleRules::default() }),
        // Deducted at payment.
        sku("tea-box-pay-now", "tea-gift-box", SaleRules { mode: DeductionMode::OnPayment, ..SaleRules::default() }),
        stock("moutai-500ml", "sh-01", 600),
        stock("moutai-500ml", "cd-01", 400),
        stock("tea-gift-box", "sh-01", 5_000),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_catalog_applies_cleanly() {
        let mut state = stockraft_core::State::new();
        let command =
            stockraft_core::Command { now_ms: 1, body: stockraft_core::CommandBody::Batch(super::requests()) };
        match state.apply(1, &command) {
            Ok(stockraft_core::Applied::Batch(outcomes)) => {
                assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}")
            }
            other => panic!("{other:?}"),
        }
        state.check_invariants().unwrap();
    }
}
