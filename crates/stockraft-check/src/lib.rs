//! # stockraft-check: is a recorded history linearizable?
//!
//! A chaos run records every operation a client sent: when it was invoked, when it completed
//! and what it returned, or that it never completed (timed out, connection lost: the outcome
//! is unknown, so it may or may not have taken effect). [`check`] searches for a
//! *linearization*: one sequential order of the operations that
//!
//! - respects real time: if `a` completed before `b` was invoked, `a` comes first;
//! - explains every known outcome: applying the operations in that order to the sequential
//!   [`Model`] returns exactly what each completed operation returned;
//! - treats operations with unknown outcomes as optional: each either took effect at some
//!   point after its invocation (with whatever result) or never did.
//!
//! The search is Wing and Gong's, with Lowe's memoisation of (operations linearized, model
//! state) pairs already explored: the algorithm of Knossos and Porcupine. Like Porcupine it
//! walks a doubly linked list of call and return events, so each step costs the number of
//! operations concurrent with it, not the length of the history, and it remembers explored
//! pairs as two 64-bit hashes (a Zobrist hash of the set of operations placed, and the model's
//! digest). Two orderings keep real histories fast without changing any verdict: an
//! operation that leaves the state unchanged (a matching read, a refusal) is placed as soon
//! as it can be and never reordered ([`Model::is_noop`]), and candidates are tried in the
//! order the system reports ([`Operation::hint`], e.g. log positions) before the rest.
//! It is exponential in the worst case; per-key histories (one SKU at a time) keep it
//! small in practice, and [`Limits::max_steps`] bounds it (the verdict is then
//! [`Verdict::Unknown`], never a pass).

use std::collections::HashSet;

/// The sequential specification the history is checked against.
pub trait Model: Clone {
    type Input: PartialEq;
    type Output: PartialEq + std::fmt::Debug;

    /// Applies one operation that returned `output` (`None`: the outcome is unknown, and the
    /// model applies it as it would have taken effect). Returns `false` when the model cannot
    /// explain that output from this state; the state is then discarded.
    ///
    /// A model may use the recorded output to resolve its own nondeterminism (which of several
    /// legal internal events happened before the operation), as long as every choice it makes
    /// is one the real system could have made.
    fn step(&mut self, input: &Self::Input, output: Option<&Self::Output>) -> bool;

    /// Whether applying the operation with this recorded output would be accepted *and* leave
    /// the state exactly as it is (a read that matches, a refusal the state explains). The
    /// default tries it on a copy; models can answer more cheaply.
    fn is_noop(&self, input: &Self::Input, output: &Self::Output) -> bool {
        let mut next = self.clone();
        next.step(input, Some(output)) && next.digest() == self.digest()
    }

    /// A digest of the state, for memoisation: equal states must give equal digests (unequal
    /// states should differ; a collision can only make the search skip a branch).
    fn digest(&self) -> u64;
}

/// One recorded operation. Times are any monotonic clock (nanoseconds since the run began).
#[derive(Clone, Debug)]
pub struct Operation<I, O> {
    pub input: I,
    pub invoked_at: u64,
    /// `None` when the outcome is unknown (timeout, lost connection, client killed).
    pub completed: Option<(u64, O)>,
    /// Where the system says it took effect, if it says (a log position): candidates are tried
    /// in this order first (then the rest, by invocation). Only an ordering of the search, never
    /// a constraint: the verdict is the same without it, it is just found sooner.
    pub hint: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Model steps the search may take before giving up.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_steps: 50_000_000 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A linearization exists; `order` lists the operations (by index) that took effect, in order.
    Linearizable { order: Vec<usize> },
    /// No order explains the history. `stuck_after` is the longest prefix the search found.
    NotLinearizable { stuck_after: Vec<usize> },
    /// The search hit its step limit; `longest` is the longest prefix it had found.
    Unknown { longest: Vec<usize> },
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable { .. })
    }
}

/// A call or return event in the doubly linked list the search walks.
#[derive(Clone, Copy)]
struct Event {
    op: usize,
    is_call: bool,
    prev: Option<usize>,
    next: Option<usize>,
}

/// The events by time, with O(1) removal and re-insertion (in reverse order of removal).
struct Events {
    events: Vec<Event>,
    head: Option<usize>,
    /// Each operation's (call, return) event.
    of_op: Vec<(usize, Option<usize>)>,
}

impl Events {
    fn new<I, O>(history: &[Operation<I, O>]) -> Events {
        // (time, returns after calls at equal times: touching operations count as concurrent)
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(history.len() * 2);
        for (i, op) in history.iter().enumerate() {
            order.push((op.invoked_at, false, i));
            if let Some((at, _)) = &op.completed {
                order.push((*at, true, i));
            }
        }
        order.sort_unstable();
        let mut of_op = vec![(usize::MAX, None); history.len()];
        let events: Vec<Event> = order
            .iter()
            .enumerate()
            .map(|(at, &(_, is_return, op))| {
                if is_return {
                    of_op[op].1 = Some(at);
                } else {
                    of_op[op].0 = at;
                }
                Event {
                    op,
                    is_call: !is_return,
                    prev: at.checked_sub(1),
                    next: (at + 1 < order.len()).then_some(at + 1),
                }
            })
            .collect();
        Events { head: (!events.is_empty()).then_some(0), events, of_op }
    }

    fn unlink(&mut self, at: usize) {
        let Event { prev, next, .. } = self.events[at];
        match prev {
            Some(p) => self.events[p].next = next,
            None => self.head = next,
        }
        if let Some(n) = next {
            self.events[n].prev = prev;
        }
    }

    fn relink(&mut self, at: usize) {
        let Event { prev, next, .. } = self.events[at];
        match prev {
            Some(p) => self.events[p].next = Some(at),
            None => self.head = Some(at),
        }
        if let Some(n) = next {
            self.events[n].prev = Some(at);
        }
    }

    /// Takes an operation out of the list (its call, and its return if it has one).
    fn lift(&mut self, op: usize) {
        let (call, ret) = self.of_op[op];
        self.unlink(call);
        if let Some(ret) = ret {
            self.unlink(ret);
        }
    }

    /// Puts back the operation lifted last.
    fn unlift(&mut self, op: usize) {
        let (call, ret) = self.of_op[op];
        if let Some(ret) = ret {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// A fixed pseudo-random 64-bit key per operation (splitmix64), for the Zobrist hash of the
/// set of operations placed.
fn zobrist_key(op: usize) -> u64 {
    let mut z = (op as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One placed operation: what to undo on backtracking.
struct Placed<M> {
    op: usize,
    /// The model before the operation.
    before: M,
    /// Operations tried at this depth before this one (for the symmetry reduction below).
    tried: Vec<usize>,
    /// It left the model's state unchanged, so no other choice at this depth needs trying.
    forced: bool,
}

/// Searches for a linearization of `history` from the model's initial state `model`.
pub fn check<M: Model>(model: M, history: &[Operation<M::Input, M::Output>], limits: Limits) -> Verdict {
    let completed_count = history.iter().filter(|op| op.completed.is_some()).count();
    let mut events = Events::new(history);
    let mut placed_completed = 0usize;
    let mut placed_set = 0u64; // Zobrist hash of the operations placed
    let mut path: Vec<Placed<M>> = Vec::new();
    let mut current = model;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut longest: Vec<usize> = Vec::new();
    let mut steps = 0u64;
    // Of several candidates at one depth with the same input and recorded output, trying the
    // one that completed first is enough: the model is deterministic, so they have the same
    // effect, and any linearization that places a twin completing later first can swap the two
    // (both are callable now; the earlier one moves earlier, and the later one takes a place
    // whose real-time bound, set by the earlier completion, it meets too). The converse swap
    // is not sound: a twin that completed earlier may not move later (found by the brute-force
    // property test). This keeps fully concurrent sales (many identical reserves at once) from
    // exploding combinatorially.
    let mut tried: Vec<usize> = Vec::new();
    let completes = |op: &Operation<M::Input, M::Output>| op.completed.as_ref().map_or(u64::MAX, |(at, _)| *at);
    let same = |a: &Operation<M::Input, M::Output>, b: &Operation<M::Input, M::Output>| {
        a.input == b.input
            && match (&a.completed, &b.completed) {
                (None, None) => true,
                (Some((_, x)), Some((_, y))) => x == y,
                _ => false,
            }
    };

    loop {
        if placed_completed == completed_count {
            return Verdict::Linearizable { order: path.iter().map(|p| p.op).collect() };
        }
        // At a fresh depth, first look for a candidate that leaves the state unchanged (see
        // `forced` below): placing it cannot be wrong, and doing so before trying operations
        // that change the state keeps reads from sending the search down long dead ends.
        if tried.is_empty() {
            let mut scan = events.head;
            let before = current.digest();
            let mut found = None;
            while let Some(at) = scan {
                let event = events.events[at];
                if !event.is_call {
                    break;
                }
                scan = event.next;
                let op = &history[event.op];
                let Some((_, output)) = &op.completed else { continue };
                steps += 1;
                if current.is_noop(&op.input, output) && !seen.contains(&(placed_set ^ zobrist_key(event.op), before)) {
                    found = Some(event.op);
                    break;
                }
            }
            if let Some(i) = found {
                let next = current.clone();
                placed_set ^= zobrist_key(i);
                seen.insert((placed_set, before));
                events.lift(i);
                placed_completed += 1;
                path.push(Placed {
                    op: i,
                    before: std::mem::replace(&mut current, next),
                    tried: Vec::new(),
                    forced: true,
                });
                if path.len() > longest.len() {
                    longest = path.iter().map(|p| p.op).collect();
                }
                continue;
            }
        }
        let mut advanced = false;
        // Candidates are the calls before the first return still in the list: an operation
        // that completed must be placed before anything invoked after it completed. They are
        // tried by hint, then in invocation order.
        let mut candidates: Vec<(u64, usize)> = Vec::new();
        let mut scan = events.head;
        while let Some(at) = scan {
            let event = events.events[at];
            if !event.is_call {
                break;
            }
            scan = event.next;
            candidates.push((history[event.op].hint.unwrap_or(u64::MAX), event.op));
        }
        candidates.sort_by_key(|&(hint, _)| hint);
        let current_digest = current.digest();
        for &(_, i) in &candidates {
            let op = &history[i];
            // (Only one that completed no later stands for this one: swapping a later-completing
            // twin to the front is always allowed, the other way round it is not.)
            if tried.iter().any(|&j| j == i || (same(&history[j], op) && completes(&history[j]) <= completes(op))) {
                continue;
            }
            tried.push(i);
            steps += 1;
            if steps > limits.max_steps {
                return Verdict::Unknown { longest };
            }
            let mut next = current.clone();
            if !next.step(&op.input, op.completed.as_ref().map(|(_, output)| output)) {
                continue;
            }
            let placed_after = placed_set ^ zobrist_key(i);
            let digest = next.digest();
            if !seen.insert((placed_after, digest)) {
                continue;
            }
            // An operation that is callable now and leaves the state as it was (a read, a
            // refused reserve) can go first in any linearization of the rest: moving it ahead
            // changes no other operation's state or real-time order. So if the rest cannot be
            // linearized after it, it cannot be linearized at all from here, and the search
            // need not try the other candidates at this depth. This keeps the many refused
            // calls of a sold-out sale from multiplying the search.
            let forced = digest == current_digest;
            placed_set = placed_after;
            events.lift(i);
            if op.completed.is_some() {
                placed_completed += 1;
            }
            path.push(Placed {
                op: i,
                before: std::mem::replace(&mut current, next),
                tried: std::mem::take(&mut tried),
                forced,
            });
            if path.len() > longest.len() {
                longest = path.iter().map(|p| p.op).collect();
            }
            advanced = true;
            break;
        }
        if advanced {
            continue;
        }
        // Dead end at this depth: undo the last step and try its next sibling (or, if that
        // step was forced, undo further).
        loop {
            let Some(Placed { op: i, before, tried: tried_before, forced }) = path.pop() else {
                return Verdict::NotLinearizable { stuck_after: longest };
            };
            events.unlift(i);
            placed_set ^= zobrist_key(i);
            if history[i].completed.is_some() {
                placed_completed -= 1;
            }
            current = before;
            tried = tried_before;
            if !forced {
                break;
            }
        }
    }
}
