//! What a node finds in its data dir after a restart: its vote, its log, its committed index and
//! its last snapshot, from which the very same ledger comes back. And what it does with a log
//! entry that does not decode: it refuses it, loudly.

use futures_util::stream;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogReader, RaftLogStorage, RaftSnapshotBuilder, RaftStateMachine};
use openraft::testing::log_id;
use openraft::type_config::TypeConfigExt;
use std::path::Path;
use std::time::{Duration, Instant};
use stockraft_core::*;
use stockraft_storage::{Entry, LogStore, StateMachineStore, TypeConfig, Vote};
use tempfile::TempDir;

fn command(n: u64, op: Op) -> Command {
    let request_id = RequestId::new(&format!("request-{n}")).unwrap();
    Command { now_ms: 1_764_000_000_000 + n, body: CommandBody::Request(Request::new(request_id, op).unwrap()) }
}

/// A small sale as log entries 2..: a blank leader entry first, as a new leader writes.
fn sale() -> Vec<Entry> {
    let (warehouse, item, sku) =
        (WarehouseId::new("wh").unwrap(), ItemId::new("bottle").unwrap(), SkuId::new("moutai").unwrap());
    let ops = vec![
        Op::UpsertWarehouse(UpsertWarehouse {
            id: warehouse.clone(),
            name: "".into(),
            region: "east".into(),
            priority: 0,
            active: true,
        }),
        Op::UpsertItem(UpsertItem { id: item.clone(), name: "".into() }),
        Op::UpsertSku(UpsertSku { id: sku.clone(), components: vec![(item.clone(), 1)], rules: SaleRules::default() }),
        Op::ReceiveStock(StockFigure { item, warehouse, units: 10, note: "".into() }),
        Op::Reserve(Reserve {
            hold: HoldId::new("order-1").unwrap(),
            buyer: BuyerId::new("alice").unwrap(),
            region: None,
            signals: None,
            lines: vec![Line { sku, quantity: 3 }],
        }),
    ];
    let mut entries = vec![Entry::new_blank(log_id::<TypeConfig>(1, 1, 1))];
    for (n, op) in ops.into_iter().enumerate() {
        let index = n as u64 + 2;
        entries.push(Entry::new_normal(log_id::<TypeConfig>(1, 1, index), command(index, op)));
    }
    entries
}

/// Appends and waits for the flush callback: only then is the write acknowledged.
async fn append_durably(log: &mut LogStore, entries: Vec<Entry>) {
    let (flushed, on_disk) = TypeConfig::oneshot();
    log.append(entries, IOFlushed::signal(flushed)).await.unwrap();
    on_disk.await.unwrap().unwrap();
}

async fn apply(machine: &mut StateMachineStore, entries: Vec<Entry>) {
    machine.apply(stream::iter(entries.into_iter().map(|entry| Ok((entry, None))))).await.unwrap();
}

/// Opens the data dir once the previous instance has let go of it (its flusher thread exits
/// when the store is dropped), waiting for that rather than sleeping a fixed time.
fn reopen(dir: &Path) -> (LogStore, StateMachineStore) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match stockraft_storage::open(dir) {
            Ok(stores) => return stores,
            Err(error) if Instant::now() < deadline => {
                assert!(error.to_string().contains("lock"), "{error}");
                std::thread::yield_now();
            }
            Err(error) => panic!("data dir still locked: {error}"),
        }
    }
}

#[test]
fn a_restarted_node_finds_its_vote_log_committed_index_and_snapshot() {
    TypeConfig::run(async {
        let dir = TempDir::new().unwrap();
        let vote = Vote::new(1, 1);
        let ledger_before = {
            let (mut log, mut machine) = stockraft_storage::open(dir.path()).unwrap();
            log.save_vote(&vote).await.unwrap();
            append_durably(&mut log, sale()).await;
            apply(&mut machine, sale()).await;
            log.save_committed(Some(log_id::<TypeConfig>(1, 1, 6))).await.unwrap();
            let snapshot = machine.get_snapshot_builder().await.build_snapshot().await.unwrap();
            assert_eq!(snapshot.meta.last_log_id, Some(log_id::<TypeConfig>(1, 1, 6)));
            let ledger = machine.read().ledger.snapshot();
            assert_eq!(snapshot.snapshot, ledger);
            ledger
        };

        let (mut log, mut machine) = reopen(dir.path());
        assert_eq!(log.read_vote().await.unwrap(), Some(vote));
        let entries = log.try_get_log_entries(1..7).await.unwrap();
        assert_eq!(entries, sale(), "every acknowledged entry survives, in order");
        assert_eq!(log.read_committed().await.unwrap(), Some(log_id::<TypeConfig>(1, 1, 6)));

        let snapshot = machine.get_current_snapshot().await.unwrap().expect("the snapshot survives");
        machine.install_snapshot(&snapshot.meta, snapshot.snapshot).await.unwrap();
        let restored = &machine.read().ledger;
        assert_eq!(restored.snapshot(), ledger_before, "the same ledger, byte for byte");
        assert_eq!(restored.hold_state(&HoldId::new("order-1").unwrap()), Ok(HoldState::Held));
    });
}

#[test]
fn a_log_entry_that_does_not_decode_is_an_error_not_a_skipped_entry() {
    TypeConfig::run(async {
        let dir = TempDir::new().unwrap();
        {
            let (mut log, _) = stockraft_storage::open(dir.path()).unwrap();
            append_durably(&mut log, sale()).await;
        }
        // Damage entry 4 behind the store's back.
        {
            let deadline = Instant::now() + Duration::from_secs(10);
            let families = ["log", "meta", "snapshot"];
            let db = loop {
                match rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), families) {
                    Ok(db) => break db,
                    Err(_) if Instant::now() < deadline => std::thread::yield_now(),
                    Err(error) => panic!("{error}"),
                }
            };
            db.put_cf(db.cf_handle("log").unwrap(), 4u64.to_be_bytes(), b"\xff\xff not an entry").unwrap();
        }
        let (mut log, _) = reopen(dir.path());
        let error = log.try_get_log_entries(1..7).await.expect_err("a damaged entry must not be skipped");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
        assert_eq!(log.try_get_log_entries(1..4).await.unwrap().len(), 3, "the entries before it still read");
    });
}

/// A reserve of one unit as the log entry at `index`.
fn reserve_entry(index: u64, hold: &str) -> Entry {
    let op = Op::Reserve(Reserve {
        hold: HoldId::new(hold).unwrap(),
        buyer: BuyerId::new(&format!("buyer-of-{hold}")).unwrap(),
        region: None,
        signals: None,
        lines: vec![Line { sku: SkuId::new("moutai").unwrap(), quantity: 1 }],
    });
    Entry::new_normal(log_id::<TypeConfig>(1, 1, index), command(index, op))
}

#[test]
fn a_snapshot_is_the_ledger_at_the_point_it_was_asked_for_even_after_the_ledger_moved_on() {
    TypeConfig::run(async {
        let dir = TempDir::new().unwrap();
        let (mut log, mut machine) = stockraft_storage::open(dir.path()).unwrap();
        append_durably(&mut log, sale()).await;
        apply(&mut machine, sale()).await;
        let first = machine.get_snapshot_builder().await.build_snapshot().await.unwrap();
        assert_eq!(first.meta.last_log_id, Some(log_id::<TypeConfig>(1, 1, 6)));

        // Two more reserves; the builder is asked for at index 8 ...
        let more = vec![reserve_entry(7, "order-2"), reserve_entry(8, "order-3")];
        append_durably(&mut log, more.clone()).await;
        apply(&mut machine, more).await;
        let at_8 = machine.read().ledger.snapshot();
        let mut builder = machine.get_snapshot_builder().await;

        // ... and the ledger moves on before the builder runs.
        append_durably(&mut log, vec![reserve_entry(9, "order-4")]).await;
        apply(&mut machine, vec![reserve_entry(9, "order-4")]).await;
        assert_ne!(machine.read().ledger.snapshot(), at_8);

        // Built from the first snapshot plus entries 7 and 8 of the log: the ledger at 8.
        let second = builder.build_snapshot().await.unwrap();
        assert_eq!(second.meta.last_log_id, Some(log_id::<TypeConfig>(1, 1, 8)));
        assert_eq!(second.snapshot, at_8, "the ledger at index 8, byte for byte");
        let saved = machine.get_current_snapshot().await.unwrap().expect("saved");
        assert_eq!((saved.meta, saved.snapshot), (second.meta, at_8), "and it is the one a restart finds");
    });
}

#[test]
fn a_snapshot_whose_log_is_gone_is_copied_from_the_live_ledger_instead() {
    TypeConfig::run(async {
        let dir = TempDir::new().unwrap();
        let (mut log, mut machine) = stockraft_storage::open(dir.path()).unwrap();
        append_durably(&mut log, sale()).await;
        apply(&mut machine, sale()).await;
        let mut builder = machine.get_snapshot_builder().await;
        // No snapshot saved and the log purged: nothing to rebuild index 6 from.
        log.purge(log_id::<TypeConfig>(1, 1, 6)).await.unwrap();

        let snapshot = builder.build_snapshot().await.unwrap();
        assert_eq!(snapshot.meta.last_log_id, Some(log_id::<TypeConfig>(1, 1, 6)));
        assert_eq!(snapshot.snapshot, machine.read().ledger.snapshot(), "the live ledger, byte for byte");
    });
}
