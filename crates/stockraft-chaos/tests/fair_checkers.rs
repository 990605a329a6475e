//! The fair sale's checkers against histories whose verdict is known: each passes a fair run
//! and fails the unfairness it exists to catch (a place lost, a place jumped, open sale while
//! someone waits, a draw not by the committed seed, grants out of draw order).

use stockraft_chaos::checkers::FinalState;
use stockraft_chaos::fair::{raffle_drawn_fairly, raffle_seed, recomputed_order, waitlist_served_in_order};
use stockraft_chaos::history::{Call, Outcome, Record};
use stockraft_client::v1;

fn record(call: Call, outcome: Outcome) -> Record {
    Record { process: 0, call, invoked_ns: 0, invoked_wall_ms: 0, completed_ns: 1, completed_wall_ms: 1, outcome }
}

fn wait(hold: &str) -> Call {
    Call::Wait { hold: hold.into(), buyer: 0, request_id: format!("r-{hold}") }
}

fn waiting(at: u64) -> Outcome {
    Outcome::Waiting { position: 1, log_index: at }
}

fn held(id: &str, state: v1::HoldState) -> Option<v1::Hold> {
    Some(v1::Hold { hold_id: id.into(), state: state as i32, ..Default::default() })
}

/// A and B took places at 10 and 11; the final state and ledger say where each ended.
fn two_places(grants: &[(&str, u64)]) -> (Vec<Record>, FinalState) {
    let records = vec![record(wait("a"), waiting(10)), record(wait("b"), waiting(11))];
    let mut state = FinalState::default();
    for hold in ["a", "b"] {
        let found = grants.iter().any(|(h, _)| *h == hold);
        state
            .holds
            .insert(hold.into(), held(hold, if found { v1::HoldState::Held } else { v1::HoldState::Waitlisted }));
    }
    state.reserve_entries = grants.iter().map(|(h, at)| (h.to_string(), *at)).collect();
    (records, state)
}

#[test]
fn places_granted_in_order_pass_and_a_jumped_place_fails() {
    let (records, state) = two_places(&[("a", 20), ("b", 21)]);
    assert!(waitlist_served_in_order(&records, &state).passed);
    let (records, state) = two_places(&[("a", 20)]);
    assert!(waitlist_served_in_order(&records, &state).passed, "b still waits behind a: fine");
    let (records, state) = two_places(&[("b", 21)]);
    assert!(!waitlist_served_in_order(&records, &state).passed, "b was served while a, ahead of it, waited");
    let (mut records, state) = two_places(&[("b", 21)]);
    records.push(record(Call::Leave { hold: "a".into(), request_id: "l".into() }, Outcome::Left { log_index: 15 }));
    assert!(waitlist_served_in_order(&records, &state).passed, "a left before b's turn");
}

#[test]
fn a_lost_place_and_open_sale_while_someone_waits_fail() {
    let (records, mut state) = two_places(&[("a", 20)]);
    state.holds.insert("b".into(), None);
    assert!(!waitlist_served_in_order(&records, &state).passed, "b's acknowledged place vanished");
    let (mut records, state) = two_places(&[("a", 20), ("b", 21)]);
    records.push(record(wait("bot"), Outcome::Held { expires_at_ms: 0, log_index: 15 }));
    assert!(!waitlist_served_in_order(&records, &state).passed, "the bot bought at 15 while a and b waited");
}

fn drawn(seed: &[u8], entries: &[&str], order: Vec<String>, grants: &[(&str, u64)]) -> (Vec<Record>, FinalState) {
    let records = entries
        .iter()
        .map(|h| {
            record(
                Call::Enter { hold: h.to_string(), buyer: 0, request_id: format!("e-{h}") },
                Outcome::Entered { log_index: 1 },
            )
        })
        .collect();
    use sha2::Digest;
    let raffle = v1::Raffle {
        seed_sha256: sha2::Sha256::digest(raffle_seed(7)).to_vec(),
        entries: entries.iter().map(|h| v1::RaffleEntry { hold_id: h.to_string(), ..Default::default() }).collect(),
        draw: Some(v1::RaffleDraw { seed: seed.to_vec(), log_index: 50, order, ..Default::default() }),
        ..Default::default()
    };
    let state = FinalState {
        raffle: Some(raffle),
        reserve_entries: grants.iter().map(|(h, at)| (h.to_string(), *at)).collect(),
        ..Default::default()
    };
    (records, state)
}

#[test]
fn a_draw_by_the_committed_seed_passes_and_any_other_fails() {
    let entries = ["r1", "r2", "r3", "r4"];
    let seed = raffle_seed(7);
    let order = recomputed_order(&seed, &entries.map(String::from));
    let grants = [(order[0].as_str(), 50), (order[1].as_str(), 50), (order[2].as_str(), 60)];
    let (records, state) = drawn(&seed, &entries, order.clone(), &grants);
    assert!(raffle_drawn_fairly(&records, &state, 7).passed);

    let (records, state) = drawn(b"a seed chosen after the entries", &entries, order.clone(), &grants);
    assert!(!raffle_drawn_fairly(&records, &state, 7).passed, "not the committed seed");
    let mut reordered = order.clone();
    reordered.swap(0, 3);
    let (records, state) = drawn(&seed, &entries, reordered, &grants);
    assert!(!raffle_drawn_fairly(&records, &state, 7).passed, "an order the seed does not give");
    let skipped = [(order[0].as_str(), 50), (order[2].as_str(), 50)];
    let (records, state) = drawn(&seed, &entries, order.clone(), &skipped);
    assert!(!raffle_drawn_fairly(&records, &state, 7).passed, "the second drawn was passed over at the draw");
    let late = [(order[0].as_str(), 50), (order[1].as_str(), 70), (order[2].as_str(), 60)];
    let (records, state) = drawn(&seed, &entries, order.clone(), &late);
    assert!(!raffle_drawn_fairly(&records, &state, 7).passed, "the third was granted before the second");
}
