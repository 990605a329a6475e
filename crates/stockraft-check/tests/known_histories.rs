//! The checker against histories whose verdict is known: it must accept every legal
//! interleaving and catch the bugs chaos runs hunt for (oversell, lost acknowledgement,
//! stale reads, a write applied twice).

use stockraft_check::{Limits, Model, Operation, Verdict, check};

/// A toy stock: reserve one unit if any is left; read the units left.
#[derive(Clone, Debug)]
struct Stock {
    left: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Call {
    Reserve,
    Read,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    Held,
    OutOfStock,
    Left(u32),
}

impl Model for Stock {
    type Input = Call;
    type Output = Reply;

    fn step(&mut self, input: &Call, output: Option<&Reply>) -> bool {
        let reply = self.apply(input);
        output.is_none_or(|recorded| *recorded == reply)
    }

    fn digest(&self) -> u64 {
        u64::from(self.left)
    }
}

impl Stock {
    fn apply(&mut self, input: &Call) -> Reply {
        match input {
            Call::Reserve if self.left > 0 => {
                self.left -= 1;
                Reply::Held
            }
            Call::Reserve => Reply::OutOfStock,
            Call::Read => Reply::Left(self.left),
        }
    }
}

fn op(input: Call, invoked_at: u64, completed_at: u64, reply: Reply) -> Operation<Call, Reply> {
    Operation { input, invoked_at, completed: Some((completed_at, reply)), hint: None }
}

fn unknown(input: Call, invoked_at: u64) -> Operation<Call, Reply> {
    Operation { input, invoked_at, completed: None, hint: None }
}

fn verdict(units: u32, history: &[Operation<Call, Reply>]) -> Verdict {
    check(Stock { left: units }, history, Limits::default())
}

#[test]
fn a_sequential_sale_is_linearizable() {
    let history = [
        op(Call::Reserve, 0, 1, Reply::Held),
        op(Call::Reserve, 2, 3, Reply::Held),
        op(Call::Reserve, 4, 5, Reply::OutOfStock),
        op(Call::Read, 6, 7, Reply::Left(0)),
    ];
    assert_eq!(verdict(2, &history), Verdict::Linearizable { order: vec![0, 1, 2, 3] });
}

#[test]
fn overlapping_calls_may_take_effect_in_either_order() {
    // The read overlaps the reserve: it may see the unit taken or not.
    for seen in [1, 0] {
        let history = [op(Call::Reserve, 0, 10, Reply::Held), op(Call::Read, 1, 5, Reply::Left(seen))];
        assert!(verdict(1, &history).is_linearizable(), "read saw {seen}");
    }
    // The last unit: of two overlapping reserves exactly one wins, whichever was logged first.
    let history = [op(Call::Reserve, 0, 10, Reply::OutOfStock), op(Call::Reserve, 1, 5, Reply::Held)];
    assert!(verdict(1, &history).is_linearizable());
}

#[test]
fn an_oversell_is_caught() {
    let history = [op(Call::Reserve, 0, 10, Reply::Held), op(Call::Reserve, 1, 5, Reply::Held)];
    assert!(matches!(verdict(1, &history), Verdict::NotLinearizable { .. }));
}

#[test]
fn a_stale_read_after_a_completed_write_is_caught() {
    // The reserve completed before the read began, yet the read saw the unit still there.
    let history = [op(Call::Reserve, 0, 1, Reply::Held), op(Call::Read, 2, 3, Reply::Left(1))];
    assert!(matches!(verdict(1, &history), Verdict::NotLinearizable { .. }));
}

#[test]
fn a_lost_acknowledgement_is_caught() {
    // A reserve was acknowledged, but a later read sees all the stock back.
    let history = [
        op(Call::Reserve, 0, 1, Reply::Held),
        op(Call::Reserve, 2, 3, Reply::Held),
        op(Call::Read, 4, 5, Reply::Left(9)),
    ];
    assert!(matches!(verdict(10, &history), Verdict::NotLinearizable { .. }));
}

#[test]
fn an_operation_with_an_unknown_outcome_may_or_may_not_have_happened() {
    // It happened (the read sees its unit gone)...
    let happened = [unknown(Call::Reserve, 0), op(Call::Read, 5, 6, Reply::Left(0))];
    assert_eq!(verdict(1, &happened), Verdict::Linearizable { order: vec![0, 1] });
    // ...or it did not.
    let did_not = [unknown(Call::Reserve, 0), op(Call::Read, 5, 6, Reply::Left(1))];
    assert_eq!(verdict(1, &did_not), Verdict::Linearizable { order: vec![1] });
    // But it cannot have happened twice: two units gone from one unknown reserve is a bug.
    let twice = [unknown(Call::Reserve, 0), op(Call::Read, 5, 6, Reply::Left(0))];
    assert!(matches!(verdict(2, &twice), Verdict::NotLinearizable { .. }));
}

#[test]
fn an_unknown_outcome_cannot_take_effect_before_it_was_invoked() {
    // The read completed before the reserve was even sent, so it cannot see its effect.
    let history = [op(Call::Read, 0, 1, Reply::Left(0)), unknown(Call::Reserve, 5)];
    assert!(matches!(verdict(1, &history), Verdict::NotLinearizable { .. }));
}

#[test]
fn many_concurrent_buyers_check_quickly() {
    // 64 buyers all overlapping, 40 units: 40 held and 24 refused is legal, in any order.
    let mut history = Vec::new();
    for b in 0..64u64 {
        let reply = if b % 8 < 5 { Reply::Held } else { Reply::OutOfStock };
        history.push(op(Call::Reserve, b, 1_000 + b, reply));
    }
    assert!(verdict(40, &history).is_linearizable());
    // One held too many is an oversell.
    history[5] = op(Call::Reserve, 5, 1_005, Reply::Held);
    assert!(matches!(verdict(40, &history), Verdict::NotLinearizable { .. }));
}

/// The definition, by brute force: some subset of the unknown operations plus all completed
/// ones, in some order that respects real time, explains every recorded reply.
fn brute_force(units: u32, history: &[Operation<Call, Reply>]) -> bool {
    fn extend(model: &Stock, history: &[Operation<Call, Reply>], placed: &mut Vec<usize>) -> bool {
        let remaining: Vec<usize> = (0..history.len()).filter(|i| !placed.contains(i)).collect();
        if remaining.iter().all(|&i| history[i].completed.is_none()) {
            return true;
        }
        for &i in &remaining {
            // i may go next only if no remaining operation completed before i was invoked.
            let blocked = remaining
                .iter()
                .any(|&j| j != i && history[j].completed.as_ref().is_some_and(|(at, _)| *at < history[i].invoked_at));
            if blocked {
                continue;
            }
            let mut next = model.clone();
            let reply = next.apply(&history[i].input);
            if history[i].completed.as_ref().is_some_and(|(_, recorded)| *recorded != reply) {
                continue;
            }
            placed.push(i);
            if extend(&next, history, placed) {
                return true;
            }
            placed.pop();
        }
        // Unknown operations may never take effect: drop one and go on.
        remaining.iter().any(|&i| {
            history[i].completed.is_none() && {
                placed.push(i);
                let ok = {
                    // Dropping is modelled as placing without effect.
                    extend(model, history, placed)
                };
                placed.pop();
                ok
            }
        })
    }
    extend(&Stock { left: units }, history, &mut Vec::new())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

    /// On small random histories (legal and corrupted alike) the search agrees with the
    /// definition.
    #[test]
    fn the_search_agrees_with_brute_force(
        units in 0u32..3,
        raw in proptest::collection::vec((proptest::bool::ANY, 0u64..20, 1u64..10, 0u8..6), 1..7),
    ) {
        let history: Vec<Operation<Call, Reply>> = raw
            .iter()
            .map(|&(reserve, invoked_at, length, reply)| {
                let input = if reserve { Call::Reserve } else { Call::Read };
                let completed = match reply {
                    0 => None,
                    1 => Some((invoked_at + length, Reply::OutOfStock)),
                    2 | 3 if reserve => Some((invoked_at + length, Reply::Held)),
                    n => Some((invoked_at + length, Reply::Left(u32::from(n % 3)))),
                };
                Operation { input, invoked_at, completed, hint: None }
            })
            .collect();
        let expected = brute_force(units, &history);
        let verdict = verdict(units, &history);
        proptest::prop_assert_eq!(verdict.is_linearizable(), expected, "{:?} -> {:?}", history, verdict);
    }
}

/// Found by the brute-force property test: two identical reserves with different completion
/// times. Trying only the later-completing one first (as if they were interchangeable) forces
/// the earlier one next and misses A, read, B; the read saw one unit left between them.
#[test]
fn twin_reserves_that_complete_at_different_times_are_not_interchangeable() {
    let history = vec![
        Operation { input: Call::Read, invoked_at: 5, completed: Some((6, Reply::Left(1))), hint: None },
        Operation { input: Call::Reserve, invoked_at: 0, completed: Some((5, Reply::Held)), hint: None },
        Operation { input: Call::Reserve, invoked_at: 0, completed: Some((1, Reply::Held)), hint: None },
    ];
    assert!(brute_force(2, &history));
    assert!(verdict(2, &history).is_linearizable(), "{:?}", verdict(2, &history));
}
