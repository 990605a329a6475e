//! A test fixture that drives the ledger the way the server will: one command at a time, each
//! with a fresh request id, the next log index and the current test clock, checking every
//! invariant after every command.

#![allow(dead_code)]

use stockraft_core::*;

pub struct Shop {
    pub state: State,
    pub now_ms: u64,
    /// Check every invariant after every command (turn off for bulk set-up, then check once).
    pub check_every_command: bool,
    log_index: u64,
    requests: u64,
}

pub fn sku_id(id: &str) -> SkuId {
    SkuId::new(id).unwrap()
}
pub fn item_id(id: &str) -> ItemId {
    ItemId::new(id).unwrap()
}
pub fn warehouse_id(id: &str) -> WarehouseId {
    WarehouseId::new(id).unwrap()
}
pub fn hold_id(id: &str) -> HoldId {
    HoldId::new(id).unwrap()
}
pub fn buyer_id(id: &str) -> BuyerId {
    BuyerId::new(id).unwrap()
}
pub fn key(id: &str) -> IdentityKey {
    IdentityKey::new(id).unwrap()
}
pub fn campaign_id(id: &str) -> CampaignId {
    CampaignId::new(id).unwrap()
}

pub const MINUTE_MS: u64 = 60_000;

impl Default for Shop {
    fn default() -> Self {
        Shop::new()
    }
}

impl Shop {
    /// An empty ledger whose clock starts at an arbitrary, realistic time.
    pub fn new() -> Self {
        Shop { state: State::new(), now_ms: 1_763_950_000_000, check_every_command: true, log_index: 0, requests: 0 }
    }

    /// One warehouse `wh`, one item `bottle` and one single-item SKU `moutai` with `rules`,
    /// and `units` bottles on hand.
    pub fn with_one_sku(units: u32, rules: SaleRules) -> Self {
        let mut shop = Shop::new();
        shop.warehouse("wh", "east", 0);
        shop.item("bottle");
        shop.sku("moutai", &[("bottle", 1)], rules);
        if units > 0 {
            shop.receive("bottle", "wh", units);
        }
        shop
    }

    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    /// Applies `op` under a new request id.
    pub fn apply(&mut self, op: Op) -> Outcome {
        self.requests += 1;
        let request_id = RequestId::new(&format!("req-{}", self.requests)).unwrap();
        self.apply_as(&request_id, op)
    }

    /// Applies `op` under a given request id (to test retries). The request is built unchecked,
    /// as a faulty leader could propose it: the ledger's own guard must refuse bad input.
    pub fn apply_as(&mut self, request_id: &RequestId, op: Op) -> Outcome {
        let body = CommandBody::Request(Request::unchecked(request_id.clone(), op));
        self.command(body)
    }

    pub fn command(&mut self, body: CommandBody) -> Outcome {
        self.log_index += 1;
        let outcome = self.state.apply(self.log_index, &Command { now_ms: self.now_ms, body });
        if !self.check_every_command {
            return outcome;
        }
        if let Err(broken) = self.state.check_invariants() {
            panic!("invariant broken after log index {}: {broken}", self.log_index);
        }
        outcome
    }

    pub fn expire(&mut self) -> ExpireReport {
        match self.command(CommandBody::Expire) {
            Ok(Applied::Expired(report)) => report,
            other => panic!("expire answered {other:?}"),
        }
    }

    pub fn warehouse(&mut self, id: &str, region: &str, priority: u32) {
        let op = Op::UpsertWarehouse(UpsertWarehouse {
            id: warehouse_id(id),
            name: format!("Warehouse {id}").into(),
            region: region.into(),
            priority,
            active: true,
        });
        self.apply(op).unwrap();
    }

    pub fn deactivate(&mut self, id: &str) {
        let warehouse = self.state.warehouse(&warehouse_id(id)).unwrap().clone();
        let op = Op::UpsertWarehouse(UpsertWarehouse {
            id: warehouse.id,
            name: warehouse.name,
            region: warehouse.region,
            priority: warehouse.priority,
            active: false,
        });
        self.apply(op).unwrap();
    }

    pub fn item(&mut self, id: &str) {
        self.apply(Op::UpsertItem(UpsertItem { id: item_id(id), name: id.into() })).unwrap();
    }

    pub fn sku(&mut self, id: &str, components: &[(&str, u32)], rules: SaleRules) {
        let components = components.iter().map(|(item, quantity)| (item_id(item), *quantity)).collect();
        self.apply(Op::UpsertSku(UpsertSku { id: sku_id(id), components, rules })).unwrap();
    }

    pub fn figure(item: &str, warehouse: &str, units: u32) -> StockFigure {
        StockFigure { item: item_id(item), warehouse: warehouse_id(warehouse), units, note: "".into() }
    }

    pub fn receive(&mut self, item: &str, warehouse: &str, units: u32) -> StockChange {
        match self.apply(Op::ReceiveStock(Shop::figure(item, warehouse, units))) {
            Ok(Applied::Stock(change)) => change,
            other => panic!("receive answered {other:?}"),
        }
    }

    pub fn count(&mut self, item: &str, warehouse: &str, units: u32) -> StockChange {
        match self.apply(Op::CountStock(Shop::figure(item, warehouse, units))) {
            Ok(Applied::Stock(change)) => change,
            other => panic!("count answered {other:?}"),
        }
    }

    pub fn order(hold: &str, buyer: &str, lines: &[(&str, u32)]) -> Reserve {
        Reserve {
            hold: hold_id(hold),
            buyer: buyer_id(buyer),
            region: None,
            signals: None,
            lines: lines.iter().map(|(sku, quantity)| Line { sku: sku_id(sku), quantity: *quantity }).collect(),
        }
    }

    pub fn reserve(&mut self, hold: &str, buyer: &str, lines: &[(&str, u32)]) -> Result<HoldReceipt, Rejection> {
        self.reserve_order(Shop::order(hold, buyer, lines))
    }

    pub fn reserve_order(&mut self, order: Reserve) -> Result<HoldReceipt, Rejection> {
        receipt(self.apply(Op::Reserve(order)))
    }

    /// A reserve that also carries identity keys (device, phone, ...).
    pub fn reserve_keyed(
        &mut self,
        hold: &str,
        buyer: &str,
        keys: &[&str],
        lines: &[(&str, u32)],
    ) -> Result<HoldReceipt, Rejection> {
        let keys = keys.iter().map(|key| IdentityKey::new(key).unwrap()).collect();
        receipt(self.apply(Op::ReserveKeyed(KeyedReserve { reserve: Shop::order(hold, buyer, lines), keys })))
    }

    /// A campaign over `skus`: at most `units` per person, over `window_ms` if given.
    pub fn campaign(&mut self, id: &str, skus: &[&str], units: u32, window_ms: Option<u64>) -> Outcome {
        let skus = skus.iter().map(|sku| sku_id(sku)).collect();
        let id = CampaignId::new(id).unwrap();
        self.apply(Op::UpsertCampaign(UpsertCampaign { id, skus, units_per_person_max: units, window_ms }))
    }

    pub fn deduct(&mut self, hold: &str, buyer: &str, lines: &[(&str, u32)]) -> Result<HoldReceipt, Rejection> {
        receipt(self.apply(Op::Deduct(Shop::order(hold, buyer, lines))))
    }

    pub fn confirm(&mut self, hold: &str) -> Result<HoldReceipt, Rejection> {
        receipt(self.apply(Op::Confirm { hold: hold_id(hold) }))
    }

    pub fn rehold(&mut self, hold: &str) -> Result<HoldReceipt, Rejection> {
        receipt(self.apply(Op::Rehold { hold: hold_id(hold) }))
    }

    pub fn release(&mut self, hold: &str) -> Result<HoldReceipt, Rejection> {
        receipt(self.apply(Op::Release { hold: hold_id(hold) }))
    }

    pub fn ship(&mut self, hold: &str) -> Result<HoldReceipt, Rejection> {
        receipt(self.apply(Op::Ship { hold: hold_id(hold) }))
    }

    pub fn cancel(&mut self, hold: &str) -> Result<HoldReceipt, Rejection> {
        receipt(self.apply(Op::Cancel { hold: hold_id(hold) }))
    }

    pub fn level(&self, item: &str, warehouse: &str) -> StockLevel {
        self.state.stock(&item_id(item), &warehouse_id(warehouse)).unwrap()
    }

    pub fn available(&self, sku: &str) -> u32 {
        self.state.availability(&sku_id(sku)).unwrap().sellable_units
    }

    /// Everything a client can observe of stock and holds (not the log position or the clock,
    /// which every command advances): rejected commands must leave this unchanged.
    pub fn observable(&self) -> String {
        let mut seen = format!("{:?}\n", self.state.holds());
        for item in self.state.item_ids() {
            for warehouse in self.state.warehouses() {
                let level = self.state.stock(item, &warehouse.id).unwrap();
                seen += &format!("{item}@{}: {level:?}\n", warehouse.id);
            }
        }
        for sku in self.state.sku_ids() {
            seen += &format!("{:?}\n", self.state.availability(sku).unwrap());
        }
        seen + &format!("ledger {} shortfalls {:?}", self.state.ledger_len(), self.state.shortfalls())
    }

    pub fn hold_state(&self, hold: &str) -> HoldState {
        self.state.hold_state(&hold_id(hold)).unwrap()
    }
}

pub fn receipt(outcome: Outcome) -> Result<HoldReceipt, Rejection> {
    match outcome {
        Ok(Applied::Hold(receipt)) => Ok(receipt),
        Ok(other) => panic!("expected a hold receipt, got {other:?}"),
        Err(rejection) => Err(rejection),
    }
}

impl Shop {
    /// The warehouses a receipt took units from, with quantities.
    pub fn picks(&self, receipt: &HoldReceipt) -> Vec<(String, u32)> {
        let views = receipt.allocations.iter().map(|taken| self.state.allocation_view(taken));
        views.map(|view| (view.warehouse.to_string(), view.quantity)).collect()
    }
}
