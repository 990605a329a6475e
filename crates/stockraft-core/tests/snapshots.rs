//! Snapshots: what a Raft follower installs must be exactly the leader's state, or refused.

mod support;

use stockraft_core::*;
use support::*;
use xxhash_rust::xxh3::xxh3_64;

fn busy_shop() -> Shop {
    let rules = SaleRules { units_per_buyer_max: Some(3), presale_units_max: 2, ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(10, rules);
    shop.apply(Op::BlockBuyer { sku: sku_id("moutai"), buyer: buyer_id("mallory") }).unwrap();
    shop.reserve("held", "alice", &[("moutai", 2)]).unwrap();
    shop.reserve("confirmed", "bob", &[("moutai", 1)]).unwrap();
    shop.confirm("confirmed").unwrap();
    shop.reserve("released", "carol", &[("moutai", 1)]).unwrap();
    shop.release("released").unwrap();
    shop.count("bottle", "wh", 2);
    shop
}

/// Recomputes the trailing checksum so a test can damage the body past the checksum check.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 8;
    let checksum = xxh3_64(&bytes[..body]);
    bytes[body..].copy_from_slice(&checksum.to_le_bytes());
    bytes
}

#[test]
fn a_restored_state_is_identical_and_keeps_working() {
    let mut shop = busy_shop();
    let bytes = shop.state.snapshot();
    let restored = State::restore(&bytes).unwrap();
    assert_eq!(restored.snapshot(), bytes);
    assert_eq!(restored.holds(), shop.state.holds());
    assert_eq!(restored.shortfalls(), shop.state.shortfalls());
    assert_eq!(restored.buyer_usage(&sku_id("moutai"), &buyer_id("alice")), Ok(BuyerUsage { units: 2, open_holds: 1 }));

    // The same next command gives the same result on both.
    shop.state = restored;
    assert!(matches!(shop.reserve("m", "mallory", &[("moutai", 1)]), Err(Rejection::RiskRejected { .. })));
    shop.release("held").unwrap();
}

#[test]
fn a_node_upgraded_in_place_restores_the_image_its_previous_version_saved() {
    // `busy_shop()`'s snapshot as format version 1 wrote it (request ids kept whole, outcomes
    // decoded), saved by the build before version 2.
    let v1 = include_bytes!("fixtures/busy-shop-v1.snapshot");
    assert_eq!(u16::from_le_bytes([v1[4], v1[5]]), 1);
    let mut shop = busy_shop();
    let restored = State::restore(v1).unwrap();
    assert_eq!(restored.snapshot(), shop.state.snapshot(), "the same state as the one built today");

    // The requests it remembered still answer retries with their first outcome: `req-6` is
    // alice's reserve of hold `held` (warehouse, item, SKU, receipt and block came first).
    let remembered = restored.request_ids_remembered();
    assert_eq!(remembered, shop.state.request_ids_remembered());
    let retry = || (RequestId::new("req-6").unwrap(), Op::Reserve(Shop::order("held", "alice", &[("moutai", 2)])));
    let built_today = {
        let (id, op) = retry();
        shop.apply_as(&id, op)
    };
    shop.state = restored;
    let (id, op) = retry();
    let answered = shop.apply_as(&id, op);
    assert_eq!(answered, built_today);
    assert!(
        matches!(&answered, Ok(Applied::Hold(receipt)) if receipt.state == HoldState::Held && receipt.hold == hold_id("held")),
        "{answered:?}"
    );
    assert_eq!(shop.state.request_ids_remembered(), remembered, "a retry is not remembered twice");
}

#[test]
fn a_node_upgraded_from_the_version_before_sale_windows_restores_its_image() {
    // `busy_shop()`'s snapshot as format version 2 wrote it (SKUs without a sale window), saved
    // by the build before version 3: every SKU comes back always on sale.
    let v2 = include_bytes!("fixtures/busy-shop-v2.snapshot");
    assert_eq!(u16::from_le_bytes([v2[4], v2[5]]), 2);
    let restored = State::restore(v2).unwrap();
    assert_eq!(restored.snapshot(), busy_shop().state.snapshot(), "the same state as the one built today");
    assert_eq!(restored.sku(&sku_id("moutai")).unwrap().window, SaleWindow::default());
}

#[test]
fn damaged_truncated_or_foreign_bytes_are_refused() {
    let bytes = busy_shop().state.snapshot();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    assert_eq!(State::restore(&flipped).unwrap_err(), SnapshotError::Checksum);
    assert_eq!(State::restore(&bytes[..bytes.len() - 1]).unwrap_err(), SnapshotError::Checksum);
    assert_eq!(State::restore(b"PK\x03\x04 not ours").unwrap_err(), SnapshotError::NotASnapshot);
    assert_eq!(State::restore(&[]).unwrap_err(), SnapshotError::NotASnapshot);
}

#[test]
fn an_unknown_format_version_is_refused() {
    let mut bytes = busy_shop().state.snapshot();
    bytes[4..6].copy_from_slice(&(SNAPSHOT_FORMAT_VERSION + 1).to_le_bytes());
    let refused = State::restore(&reseal(bytes)).unwrap_err();
    assert_eq!(refused, SnapshotError::UnsupportedVersion(SNAPSHOT_FORMAT_VERSION + 1));
}

#[test]
fn a_well_formed_but_inconsistent_state_is_refused() {
    // Find the bytes of the `held` level (on_hand 2, safety 0, held 2, committed 1, transit 0)
    // and claim 9 units held instead: decodable, checksummed, and wrong.
    let bytes = busy_shop().state.snapshot();
    let level = [2u8, 0, 2, 1, 0];
    let at = bytes.windows(level.len()).position(|w| w == level).expect("level bytes present");
    let mut lying = bytes.clone();
    lying[at + 2] = 9;
    match State::restore(&reseal(lying)) {
        Err(SnapshotError::Invariant(broken)) => {
            assert_eq!(broken.invariant, Invariant::Stock, "{broken}");
            assert!(broken.detail.contains("held"), "{broken}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_empty_state_round_trips() {
    let empty = State::new();
    assert_eq!(State::restore(&empty.snapshot()).unwrap().snapshot(), empty.snapshot());
}
