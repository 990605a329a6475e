//! Apply throughput of the ledger on one core: single-unit PRE_DEDUCT reserves.
//!
//! - `hot_sku_reserve/10000`: the product's canonical sale: a SKU with 10,000 units sells out to
//!   10,000 buyers, with a per-buyer cap in force.
//! - `hot_sku_reserve/100000`: the same SKU with more stock, 100,000 buyers, so the hold, buyer
//!   and request tables grow well past the CPU caches.
//! - `spread_100k_skus_reserve/100000`: reserves spread uniformly over 100,000 SKUs in 10
//!   warehouses.
//!
//! Each measured iteration applies fresh commands (unique order, buyer and request ids) to a
//! state that holds only the catalog and stock, so every table grows as it does in a real sale.
//! `cargo bench -p stockraft-core --bench apply`
//!
//! The allocator is mimalloc, as in `stockd`: a server reuses the memory it has grown into,
//! while glibc's malloc hands large freed tables back to the kernel, so that every iteration
//! here would pay for page faults that a running server does not (measured: about 0.7 of the
//! mimalloc figure for the 10,000-unit sale).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use stockraft_core::*;

const SPREAD_SKUS: usize = 100_000;
const SPREAD_WAREHOUSES: usize = 10;

struct Setup {
    state: State,
    log_index: u64,
}

impl Setup {
    fn apply(&mut self, op: Op) {
        self.log_index += 1;
        let request_id = RequestId::new(&format!("setup-{}", self.log_index)).unwrap();
        let command = Command { now_ms: 1, body: CommandBody::Request(Request::new(request_id, op).unwrap()) };
        self.state.apply(self.log_index, &command).expect("set-up command");
    }
}

fn catalog(skus: usize, warehouses: usize, rules: SaleRules, units_per_sku: u32) -> Setup {
    let mut setup = Setup { state: State::new(), log_index: 0 };
    for w in 0..warehouses {
        setup.apply(Op::UpsertWarehouse(UpsertWarehouse {
            id: WarehouseId::new(&format!("wh-{w}")).unwrap(),
            name: "".into(),
            region: format!("region-{}", w % 3).into(),
            priority: w as u32,
            active: true,
        }));
    }
    for s in 0..skus {
        let item = ItemId::new(&format!("item-{s}")).unwrap();
        setup.apply(Op::UpsertItem(UpsertItem { id: item.clone(), name: "".into() }));
        setup.apply(Op::UpsertSku(UpsertSku {
            id: SkuId::new(&format!("sku-{s}")).unwrap(),
            components: vec![(item.clone(), 1)],
            rules: rules.clone(),
        }));
        setup.apply(Op::ReceiveStock(StockFigure {
            item,
            warehouse: WarehouseId::new(&format!("wh-{}", s % warehouses)).unwrap(),
            units: units_per_sku,
            note: "".into(),
        }));
    }
    setup
}

/// `count` single-unit reserves; `sku_of(n)` picks the SKU of the n-th.
fn reserves(count: usize, sku_of: impl Fn(usize) -> usize) -> Vec<Command> {
    (0..count)
        .map(|n| {
            let reserve = Reserve {
                hold: HoldId::new(&format!("order-{n:08}")).unwrap(),
                buyer: BuyerId::new(&format!("buyer-{n:08}")).unwrap(),
                region: None,
                signals: None,
                lines: vec![Line { sku: SkuId::new(&format!("sku-{}", sku_of(n))).unwrap(), quantity: 1 }],
            };
            let request_id = RequestId::new(&format!("req-{n:08}")).unwrap();
            Command {
                now_ms: 2 + n as u64 / 1_000,
                body: CommandBody::Request(Request::new(request_id, Op::Reserve(reserve)).unwrap()),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion, name: &str, setup: Setup, commands: Vec<Command>) {
    let mut group = c.benchmark_group("apply");
    group.throughput(Throughput::Elements(commands.len() as u64));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new(name, commands.len()), |b| {
        b.iter_batched_ref(
            || setup.state.clone(),
            |state| {
                let mut index = setup.log_index;
                for command in &commands {
                    index += 1;
                    black_box(state.apply(index, command).is_ok());
                }
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();

    // Not timed: the sale must have sold exactly what was asked.
    let mut state = setup.state.clone();
    let sold = commands.iter().zip(setup.log_index + 1..).filter(|(c, i)| state.apply(*i, c).is_ok()).count();
    assert_eq!(sold, commands.len(), "{name}: every reserve should have found stock");
}

fn hot(c: &mut Criterion) {
    for units in [10_000, 100_000] {
        let rules = SaleRules { units_per_buyer_max: Some(2), ..SaleRules::default() };
        let setup = catalog(1, 1, rules, units);
        bench(c, "hot_sku_reserve", setup, reserves(units as usize, |_| 0));
    }
}

fn spread(c: &mut Criterion) {
    let setup = catalog(SPREAD_SKUS, SPREAD_WAREHOUSES, SaleRules::default(), 100);
    // A fixed multiplicative walk over the SKUs: uniform, deterministic, no RNG.
    bench(c, "spread_100k_skus_reserve", setup, reserves(100_000, |n| (n * 7_919) % SPREAD_SKUS));
}

criterion_group!(benches, hot, spread);
criterion_main!(benches);
