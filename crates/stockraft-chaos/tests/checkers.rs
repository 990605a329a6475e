//! The final-state checkers against states whose verdict is known: each one passes a correct
//! final state and fails the violation it exists to catch (PRODUCT.md's invariants: no
//! oversell, replicas agree, acknowledged writes survive, no request applied twice, caps).

use stockraft_chaos::checkers::{FinalState, no_duplicates, no_lost_acknowledgement, no_oversell, replicas_identical};
use stockraft_chaos::history::{Call, Outcome, Record};
use stockraft_chaos::workload::Sale;
use stockraft_client::v1;

fn level(on_hand: u32, held: u32, committed: u32) -> v1::StockLevel {
    v1::StockLevel {
        item_id: "item-0".into(),
        warehouse_id: "wh-east".into(),
        on_hand,
        held,
        committed,
        ..Default::default()
    }
}

fn node(id: u64, index: u64, digest: u64, stock: v1::StockLevel) -> v1::StateCheck {
    v1::StateCheck { node_id: id, applied_log_index: index, digest, stock: vec![stock], ..Default::default() }
}

fn record(call: Call, outcome: Outcome) -> Record {
    Record { process: 0, call, invoked_ns: 0, invoked_wall_ms: 0, completed_ns: 1, completed_wall_ms: 1, outcome }
}

fn reserve(hold: &str, buyer: u32, quantity: u32) -> Call {
    Call::Reserve { sku: 0, hold: hold.into(), buyer, quantity, request_id: format!("r-{hold}") }
}

fn hold(id: &str, state: v1::HoldState, expires_at_ms: u64) -> Option<v1::Hold> {
    Some(v1::Hold { hold_id: id.into(), state: state as i32, expires_at_ms: Some(expires_at_ms), ..Default::default() })
}

#[test]
fn oversell_on_any_node_fails() {
    let fine = FinalState {
        nodes: vec![node(1, 9, 7, level(10, 4, 6)), node(2, 9, 7, level(10, 4, 6))],
        ..Default::default()
    };
    assert!(no_oversell(&fine).passed);
    let oversold = FinalState {
        nodes: vec![node(1, 9, 7, level(10, 4, 6)), node(2, 9, 7, level(10, 5, 6))],
        ..Default::default()
    };
    assert!(!no_oversell(&oversold).passed, "node 2 promised 11 of 10 units");
}

#[test]
fn diverging_replicas_fail() {
    let same =
        FinalState { nodes: vec![node(1, 9, 7, level(1, 0, 0)), node(2, 9, 7, level(1, 0, 0))], ..Default::default() };
    assert!(replicas_identical(&same, 2).passed);
    let diverged =
        FinalState { nodes: vec![node(1, 9, 7, level(1, 0, 0)), node(2, 9, 8, level(1, 0, 0))], ..Default::default() };
    assert!(!replicas_identical(&diverged, 2).passed);
    let missing = FinalState { nodes: vec![node(1, 9, 7, level(1, 0, 0))], ..Default::default() };
    assert!(!replicas_identical(&missing, 2).passed, "a node that did not answer");
    let broken = FinalState {
        nodes: vec![v1::StateCheck {
            invariant_violation: "held 3 != open holds 2".into(),
            ..node(1, 9, 7, level(1, 0, 0))
        }],
        ..Default::default()
    };
    assert!(!replicas_identical(&broken, 1).passed, "a node failing its own invariant check");
}

#[test]
fn a_lost_or_altered_acknowledgement_fails() {
    let records = vec![
        record(reserve("h1", 1, 1), Outcome::Held { expires_at_ms: 100, log_index: 5 }),
        record(
            Call::Confirm { sku: 0, hold: "h1".into(), request_id: "c1".into() },
            Outcome::Confirmed { log_index: 6 },
        ),
    ];
    let mut state = FinalState::default();
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Confirmed, 100));
    assert!(no_lost_acknowledgement(&records, &state).passed);
    state.holds.insert("h1".into(), None);
    assert!(!no_lost_acknowledgement(&records, &state).passed, "the acknowledged hold is gone");
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Expired, 100));
    assert!(!no_lost_acknowledgement(&records, &state).passed, "the acknowledged confirm was lost");
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Confirmed, 101));
    assert!(!no_lost_acknowledgement(&records, &state).passed, "not the expiry the client was told");
}

#[test]
fn a_re_held_hold_keeps_the_expiry_of_its_last_acknowledged_re_hold() {
    let rehold = || Call::Rehold { sku: 0, hold: "h1".into(), request_id: "rh1".into() };
    let mut records = vec![
        record(reserve("h1", 1, 1), Outcome::Held { expires_at_ms: 100, log_index: 5 }),
        record(rehold(), Outcome::Held { expires_at_ms: 1_900, log_index: 9 }),
    ];
    let mut state = FinalState::default();
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Expired, 1_900));
    assert!(no_lost_acknowledgement(&records, &state).passed);
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Expired, 100));
    assert!(!no_lost_acknowledgement(&records, &state).passed, "the acknowledged re-hold was lost");
    // A re-hold refused by the limit leaves the hold EXPIRED; HELD would be a re-hold nobody was told of.
    records.push(record(
        rehold(),
        Outcome::Rejected {
            reason: "HOLD_EXPIRED".into(),
            rehold_refusal: "LIMIT_REACHED".into(),
            message: String::new(),
            log_index: 12,
        },
    ));
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Expired, 1_900));
    assert!(no_lost_acknowledgement(&records, &state).passed);
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Held, 1_900));
    assert!(!no_lost_acknowledgement(&records, &state).passed, "held again after a refusal");
}

#[test]
fn a_request_applied_twice_or_a_cap_exceeded_fails() {
    let sale = Sale { units_per_buyer_max: 2, open_holds_per_buyer_max: 2, ..Sale::default() };
    let records = vec![
        record(reserve("h1", 1, 1), Outcome::Held { expires_at_ms: 100, log_index: 5 }),
        record(reserve("h2", 1, 1), Outcome::Held { expires_at_ms: 100, log_index: 6 }),
    ];
    let mut state = FinalState::default();
    state.holds.insert("h1".into(), hold("h1", v1::HoldState::Held, 100));
    state.holds.insert("h2".into(), hold("h2", v1::HoldState::Confirmed, 100));
    state.reserve_entries = vec![("h1".into(), 5), ("h2".into(), 6)];
    assert!(no_duplicates(&records, &state, &sale).passed);

    let mut twice = FinalState {
        reserve_entries: vec![("h1".into(), 5), ("h1".into(), 9), ("h2".into(), 6)],
        ..Default::default()
    };
    twice.holds = state.holds.clone();
    assert!(!no_duplicates(&records, &twice, &sale).passed, "h1 reserved at two log positions");

    let mut over = records.clone();
    over.push(record(reserve("h3", 1, 1), Outcome::Held { expires_at_ms: 100, log_index: 7 }));
    state.holds.insert("h3".into(), hold("h3", v1::HoldState::Held, 100));
    assert!(!no_duplicates(&over, &state, &sale).passed, "buyer 1 holds 3 units, cap 2");

    let refused = vec![record(
        reserve("h4", 2, 1),
        Outcome::Rejected {
            reason: "ALREADY_EXISTS".into(),
            rehold_refusal: String::new(),
            message: String::new(),
            log_index: 0,
        },
    )];
    assert!(!no_duplicates(&refused, &FinalState::default(), &sale).passed, "a retry told its own hold exists");
}
