//! A flash sale against the stock ledger, printed as it happens: what `make run` shows until the
//! replicated server exists. No network, no disk: the same commands the server will replicate,
//! applied to one in-memory state.
//!
//! `cargo run --release -p stockraft-core --example flash_sale`

use std::collections::BTreeMap;
use std::time::Instant;
use stockraft_core::*;

const UNITS_EAST: u32 = 6_000;
const UNITS_WEST: u32 = 4_000;
const BUYERS: u32 = 50_000;
const MINUTE_MS: u64 = 60_000;

/// The ledger plus the bookkeeping the Raft leader will do: log indexes, request ids, time.
struct Leader {
    state: State,
    log_index: u64,
    now_ms: u64,
}

impl Leader {
    fn apply(&mut self, request: &str, op: Op) -> Outcome {
        self.log_index += 1;
        let request_id = RequestId::new(request).expect("valid request id");
        let command = Command {
            now_ms: self.now_ms,
            body: CommandBody::Request(Request::new(request_id, op).expect("a valid request")),
        };
        self.state.apply(self.log_index, &command)
    }

    fn expire(&mut self) -> ExpireReport {
        self.log_index += 1;
        match self.state.apply(self.log_index, &Command { now_ms: self.now_ms, body: CommandBody::Expire }) {
            Ok(Applied::Expired(report)) => report,
            other => panic!("expire answered {other:?}"),
        }
    }
}

fn hold(buyer: u32) -> HoldId {
    HoldId::new(&format!("order-{buyer}")).expect("valid id")
}

fn item() -> ItemId {
    ItemId::new("moutai-500ml").expect("valid id")
}

fn main() {
    let mut leader = Leader { state: State::new(), log_index: 0, now_ms: 1_764_000_000_000 };
    set_up(&mut leader);
    println!("stockraft flash-sale demo: the stock ledger in memory (the replicated cluster comes next)");
    println!(
        "  {} bottles of moutai-500ml in Shanghai (east) and Chengdu (west); {BUYERS} buyers",
        UNITS_EAST + UNITS_WEST
    );
    println!("  rules: 2 per buyer, 20-minute holds, new accounts with no orders rejected\n");

    let mut orders = Vec::with_capacity(BUYERS as usize);
    for buyer in 0..BUYERS {
        // Every 10th buyer is a fresh scalper account; the rest are regulars wanting 1 or 2.
        let signals = if buyer % 10 == 0 {
            BuyerSignals {
                account_age_days: 1,
                membership_age_days: 0,
                orders_last_year: 0,
                days_since_last_activity: 0,
            }
        } else {
            BuyerSignals {
                account_age_days: 900,
                membership_age_days: 400,
                orders_last_year: 12,
                days_since_last_activity: 3,
            }
        };
        let reserve = Reserve {
            hold: hold(buyer),
            buyer: BuyerId::new(&format!("buyer-{buyer}")).expect("valid id"),
            region: Some(if buyer % 2 == 0 { "east" } else { "west" }.into()),
            signals: Some(signals),
            lines: vec![Line { sku: SkuId::new("moutai-1").expect("valid id"), quantity: 1 + buyer % 2 }],
        };
        orders.push(
            Request::new(RequestId::new(&format!("reserve-{buyer}")).expect("valid id"), Op::Reserve(reserve))
                .expect("a valid reserve"),
        );
    }
    let started = Instant::now();
    let mut outcomes = BTreeMap::<&str, u32>::new();
    for order in orders {
        leader.log_index += 1;
        let command = Command { now_ms: leader.now_ms, body: CommandBody::Request(order) };
        let outcome = leader.state.apply(leader.log_index, &command);
        *outcomes.entry(outcome.as_ref().map_or_else(Rejection::name, |_| "HELD")).or_default() += 1;
    }
    let elapsed = started.elapsed();
    let rate = f64::from(BUYERS) / elapsed.as_secs_f64();
    println!("reserve storm: {BUYERS} reserves applied in {elapsed:.2?} ({rate:.0} per second, one core)");
    for (outcome, count) in &outcomes {
        println!("  {outcome:<16} {count:>7}");
    }
    report(&leader, "after the storm");

    // Seven in ten holders pay within the TTL; the rest abandon their carts.
    let paid = (0..BUYERS)
        .filter(|buyer| buyer % 10 < 7)
        .filter(|&buyer| leader.apply(&format!("pay-{buyer}"), Op::Confirm { hold: hold(buyer) }).is_ok())
        .count();
    println!("\npayments: {paid} holds confirmed");
    leader.now_ms += 20 * MINUTE_MS;
    let expired = leader.expire();
    println!("20 minutes later, the Expire command releases {} unpaid holds", expired.holds_expired);
    report(&leader, "after expiry");

    // A buyer who pays 2 minutes late (inside the grace window) gets a re-hold while stock lasts.
    leader.now_ms += 2 * MINUTE_MS;
    if let Some(buyer) =
        (0..BUYERS).find(|&b| b % 10 == 8 && leader.state.hold_state(&hold(b)) == Ok(HoldState::Expired))
    {
        match leader.apply("late-pay", Op::Confirm { hold: hold(buyer) }) {
            Ok(Applied::Hold(receipt)) => {
                println!("\nlate payment for order-{buyer}: {:?}, re-held: {}", receipt.state, receipt.reheld)
            }
            Err(rejection) => println!("\nlate payment for order-{buyer}: {rejection}"),
            Ok(other) => println!("\nlate payment for order-{buyer}: {other:?}"),
        }
    }

    leader.state.check_invariants().expect("every invariant holds");
    let snapshot = leader.state.snapshot();
    let restored = State::restore(&snapshot).expect("the snapshot restores");
    assert_eq!(restored.snapshot(), snapshot, "a restored state is byte-identical");
    let sold: u32 = leader.state.warehouses().iter().map(|w| level(&leader, &w.id).committed).sum();
    println!("\nsold {sold} of {} units; every invariant holds", UNITS_EAST + UNITS_WEST);
    println!("snapshot: {} KiB, restores to a byte-identical state", snapshot.len() / 1024);
}

fn set_up(leader: &mut Leader) {
    let warehouses = [("sh-01", "Shanghai", "east", 0, UNITS_EAST), ("cd-01", "Chengdu", "west", 1, UNITS_WEST)];
    for (warehouse, name, region, priority, _) in warehouses {
        let op = Op::UpsertWarehouse(UpsertWarehouse {
            id: WarehouseId::new(warehouse).expect("valid id"),
            name: name.into(),
            region: region.into(),
            priority,
            active: true,
        });
        leader.apply(&format!("warehouse-{warehouse}"), op).expect("warehouse");
    }
    leader.apply("item", Op::UpsertItem(UpsertItem { id: item(), name: "Moutai 500ml".into() })).expect("item");
    let rules = SaleRules {
        units_per_buyer_max: Some(2),
        risk_rules: vec![RiskRule {
            when: RiskCondition {
                account_age_days_below: Some(7),
                orders_last_year_below: Some(1),
                ..Default::default()
            },
            action: RiskAction::Reject,
        }],
        allow_split: true,
        ..SaleRules::default()
    };
    let sku = UpsertSku { id: SkuId::new("moutai-1").expect("valid id"), components: vec![(item(), 1)], rules };
    leader.apply("sku", Op::UpsertSku(sku)).expect("sku");
    for (warehouse, _, _, _, units) in warehouses {
        let figure = StockFigure {
            item: item(),
            warehouse: WarehouseId::new(warehouse).expect("valid id"),
            units,
            note: "2026 allocation".into(),
        };
        leader.apply(&format!("stock-{warehouse}"), Op::ReceiveStock(figure)).expect("stock");
    }
}

fn level(leader: &Leader, warehouse: &WarehouseId) -> StockLevel {
    leader.state.stock(&item(), warehouse).expect("stock level")
}

fn report(leader: &Leader, when: &str) {
    println!("\nstock {when}:");
    println!("  {:<8} {:>8} {:>8} {:>10} {:>10}", "warehouse", "on_hand", "held", "committed", "available");
    for warehouse in leader.state.warehouses() {
        let level = level(leader, &warehouse.id);
        let id = warehouse.id.as_str();
        println!("  {id:<9} {:>8} {:>8} {:>10} {:>10}", level.on_hand, level.held, level.committed, level.available());
    }
}
