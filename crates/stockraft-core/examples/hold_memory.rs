//! What one open hold costs the ledger in memory, without Raft, RocksDB or gRPC around it:
//! the heap the ledger holds after a sale of `HOLDS` one-unit holds, divided by `HOLDS`.
//! `stockbench holds` measures the whole leader process (RSS); this isolates the ledger's part.
//!
//! The ids are shaped like stockbench's: 32-hex-digit request ids, hold ids like
//! `19a8f3c2b71-17-4521`, buyer ids like `19a8f3c2b71-buyer-17-4521`, applied in batches of
//! 1,000 as `stockbench holds` sends them.
//!
//! `cargo run --release -p stockraft-core --example hold_memory`

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use stockraft_core::*;

const HOLDS: usize = 1_000_000;
const BATCH: usize = 1_000;

/// mimalloc, as in stockd, counting the bytes the program has asked for and not freed.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn request(n: usize, op: Op) -> Request {
    Request::new(RequestId::new(&format!("{:032x}", 0x9e37_79b9_7f4a_7c15_u128 * (n as u128 + 1))).unwrap(), op)
        .unwrap()
}

fn main() {
    let mut state = State::new();
    let mut index = 0;
    let mut apply = |state: &mut State, body: CommandBody| {
        index += 1;
        let outcome = state.apply(index, &Command { now_ms: 1_764_000_000_000, body });
        let all_held = match &outcome {
            Ok(Applied::Batch(outcomes)) => outcomes.iter().all(|o| o.is_ok()),
            other => other.is_ok(),
        };
        assert!(all_held, "{outcome:?}");
    };
    let (warehouse, item, sku) =
        (WarehouseId::new("wh-1").unwrap(), ItemId::new("item-1").unwrap(), SkuId::new("sku-1").unwrap());
    let setup = [
        Op::UpsertWarehouse(UpsertWarehouse {
            id: warehouse.clone(),
            name: "".into(),
            region: "east".into(),
            priority: 0,
            active: true,
        }),
        Op::UpsertItem(UpsertItem { id: item.clone(), name: "".into() }),
        Op::UpsertSku(UpsertSku { id: sku.clone(), components: vec![(item.clone(), 1)], rules: SaleRules::default() }),
        Op::ReceiveStock(StockFigure { item, warehouse, units: HOLDS as u32, note: "".into() }),
    ];
    for (n, op) in setup.into_iter().enumerate() {
        apply(&mut state, CommandBody::Request(request(usize::MAX - n, op)));
    }
    let before = LIVE.load(Ordering::Relaxed);
    let run = "19a8f3c2b71";
    for first in (0..HOLDS).step_by(BATCH) {
        let batch = (first..first + BATCH)
            .map(|n| {
                let (buyer, sequence) = (n % 256, n / 256 + 1);
                request(
                    n,
                    Op::Reserve(Reserve {
                        hold: HoldId::new(&format!("{run}-{buyer}-{sequence}")).unwrap(),
                        buyer: BuyerId::new(&format!("{run}-buyer-{buyer}-{sequence}")).unwrap(),
                        region: None,
                        signals: None,
                        lines: vec![Line { sku: sku.clone(), quantity: 1 }],
                    }),
                )
            })
            .collect();
        apply(&mut state, CommandBody::Batch(batch));
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    let image = state.snapshot().len();
    println!(
        "{HOLDS} open holds: ledger heap grew {:.1} MiB, {:.0} bytes per hold",
        grown as f64 / 1048576.0,
        grown as f64 / HOLDS as f64
    );
    println!("snapshot image: {:.1} MiB, {:.0} bytes per hold", image as f64 / 1048576.0, image as f64 / HOLDS as f64);
}
