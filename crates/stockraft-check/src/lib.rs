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
//! state) pairs already explored: the algorithm of Knossos and Porcupine. It is exponential in
//! the worst case; per-key histories (one SKU at a time) keep it small in practice, and
//! [`Limits::max_steps`] bounds it (the verdict is then [`Verdict::Unknown`], never a pass).

use std::collections::HashSet;

/// The sequential specification the history is checked against.
pub trait Model: Clone {
    type Input: PartialEq;
    type Output: PartialEq + std::fmt::Debug;

    /// Applies one operation, returning what a client would have been told.
    fn step(&mut self, input: &Self::Input) -> Self::Output;

    /// A digest of the state, for memoisation: equal states must give equal digests (unequal
    /// states should differ; a collision can only make the search skip a branch it had already
    /// explored from an equal-looking state).
    fn digest(&self) -> u64;
}

/// One recorded operation. Times are any monotonic clock (nanoseconds since the run began).
#[derive(Clone, Debug)]
pub struct Operation<I, O> {
    pub input: I,
    pub invoked_at: u64,
    /// `None` when the outcome is unknown (timeout, lost connection, client killed).
    pub completed: Option<(u64, O)>,
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
    /// The search hit its step limit.
    Unknown,
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable { .. })
    }
}

/// A set of operation indexes, as a bitset (cheap to copy into the memo).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Searches for a linearization of `history` from the model's initial state `model`.
pub fn check<M: Model>(model: M, history: &[Operation<M::Input, M::Output>], limits: Limits) -> Verdict {
    let n = history.len();
    // Operations by invocation time: candidates are always a prefix-ordered scan.
    let mut by_invocation: Vec<usize> = (0..n).collect();
    by_invocation.sort_by_key(|&i| history[i].invoked_at);
    let completed_count = history.iter().filter(|op| op.completed.is_some()).count();

    let mut done = Bits::new(n);
    let mut done_completed = 0usize;
    // The path: (operation, model before it). The model after the path is `current`.
    let mut path: Vec<(usize, M)> = Vec::new();
    let mut current = model;
    let mut seen: HashSet<(Bits, u64)> = HashSet::new();
    let mut longest: Vec<usize> = Vec::new();
    let mut steps = 0u64;
    // Where to resume scanning candidates at each depth (position in `by_invocation`), and the
    // operations already tried there. Of several candidates with the same input and recorded
    // output, trying one is enough: the model is deterministic, so they have the same effect,
    // and any linearization that places another first can swap the two (both are callable
    // now, and the real-time bound only loosens as operations are placed). This keeps fully
    // concurrent sales (many identical reserves at once) from exploding combinatorially.
    let mut resume: Vec<usize> = vec![0];
    let mut tried: Vec<Vec<usize>> = vec![Vec::new()];
    let same = |a: &Operation<M::Input, M::Output>, b: &Operation<M::Input, M::Output>| {
        a.input == b.input
            && match (&a.completed, &b.completed) {
                (None, None) => true,
                (Some((_, x)), Some((_, y))) => x == y,
                _ => false,
            }
    };

    loop {
        if done_completed == completed_count {
            return Verdict::Linearizable { order: path.iter().map(|(i, _)| *i).collect() };
        }
        // Real time: nothing may be linearized after the earliest completion among the
        // operations still to place, unless it was invoked before that completion.
        let deadline = history
            .iter()
            .enumerate()
            .filter(|(i, op)| !done.get(*i) && op.completed.is_some())
            .map(|(_, op)| op.completed.as_ref().map_or(u64::MAX, |(at, _)| *at))
            .min()
            .unwrap_or(u64::MAX);
        let start = *resume.last().expect("a resume point per depth");
        let mut advanced = false;
        for (position, &i) in by_invocation.iter().enumerate().skip(start) {
            let op = &history[i];
            if op.invoked_at > deadline {
                break;
            }
            if done.get(i) {
                continue;
            }
            let depth_tried = tried.last_mut().expect("a tried list per depth");
            if depth_tried.iter().any(|&j| same(&history[j], op)) {
                continue;
            }
            depth_tried.push(i);
            steps += 1;
            if steps > limits.max_steps {
                return Verdict::Unknown;
            }
            let mut next = current.clone();
            let output = next.step(&op.input);
            let explains = match &op.completed {
                Some((_, recorded)) => *recorded == output,
                None => true,
            };
            if !explains {
                continue;
            }
            done.set(i);
            if !seen.insert((done.clone(), next.digest())) {
                done.clear(i);
                continue;
            }
            *resume.last_mut().expect("a resume point") = position + 1;
            path.push((i, std::mem::replace(&mut current, next)));
            if op.completed.is_some() {
                done_completed += 1;
            }
            resume.push(0);
            tried.push(Vec::new());
            if path.len() > longest.len() {
                longest = path.iter().map(|(i, _)| *i).collect();
            }
            advanced = true;
            break;
        }
        if advanced {
            continue;
        }
        // Dead end at this depth: undo the last step and try its next sibling.
        resume.pop();
        tried.pop();
        let Some((i, before)) = path.pop() else {
            return Verdict::NotLinearizable { stuck_after: longest };
        };
        done.clear(i);
        if history[i].completed.is_some() {
            done_completed -= 1;
        }
        current = before;
    }
}
