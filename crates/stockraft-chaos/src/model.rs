//! The sequential specification of one SKU the linearizability search checks each SKU's
//! history against: written from PRODUCT.md, independently of stockraft-core, so that a bug
//! in the core cannot hide by being in the model too.
//!
//! One SKU with one component (one unit of one item per unit of the SKU) and split allowed,
//! so the SKU's units on sale are the sum over its warehouses. Holds are PRE_DEDUCT with a
//! TTL; buyers have a unit cap (open holds plus confirmed) and an open-hold cap. An expired
//! hold may be held again, by a `Rehold` or by a late `Confirm` that re-holds and pays in one
//! step, under the re-hold rule: fewer re-holds so far than the limit, then the caps (the
//! open-hold cap only for `Rehold`), then stock. The shop's grace window is far longer than a
//! run, so the model never expects GRACE_WINDOW_PASSED.
//!
//! Expiry is an internal event: no client asks for it. It is the one nondeterminism, resolved
//! lazily, from what clients were told:
//! - the log expires holds in order of their expiry time (each `Expire` command takes every
//!   hold due at its time), so the model expires a *prefix* of its open holds in that order,
//!   and only when an answer needs it (a reserve that succeeded only because units came back,
//!   a read that shows them back, a release refused because the hold had expired);
//! - a hold can only have expired once its expiry time has passed on the clock the leader
//!   stamps commands with; the operation being explained completed at `by_wall_ms` on the same
//!   clock (one machine), so a hold may be expired for it only if `expires_at_ms <= by_wall_ms`;
//! - a late confirm or a re-hold expires just its own hold (what stockraft-core does when it
//!   finds the hold HELD past its TTL before the next `Expire`), then judges the re-hold.
//!
//! A confirm of a hold the model still has open confirms it directly when the hold may still
//! have been within its TTL when the confirm took effect: had the log expired it first, the
//! re-hold that pays takes the same units back, so the state after is the same. When the confirm
//! was invoked after the TTL had surely passed, it is judged by the re-hold rule instead (a
//! spent re-hold limit must refuse it); and a re-hold answered INVALID_TRANSITION must have found
//! the hold still within its TTL. A hold a reserve or re-hold answers with must expire one TTL
//! after a log time inside the call's window: a re-hold that kept its lapsed expiry, or a stamp
//! from before the call, is caught.
//!
//! Expiring later than the log did never makes an answer impossible that expiring earlier made
//! possible (every check is monotone in the units and caps expiry gives back), so this lazy
//! choice finds a linearization whenever one exists.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use stockraft_check::Model;

/// Leeway between the leader's clock reading and the client's, in milliseconds. Two is enough
/// only because every node and the client read one machine's real-time clock (a chaos run is
/// one host): a run across hosts, or a clock stepped backwards mid-run, needs the hosts' skew
/// here, or the model would refuse legal histories.
pub const CLOCK_SLACK_MS: u64 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Reserve { hold: u32, buyer: u32, quantity: u32 },
    Confirm { hold: u32 },
    Release { hold: u32 },
    Rehold { hold: u32 },
    Read,
    Restock { units: u32 },
}

/// An operation and the wall-clock window it took effect in: not before its invocation, not
/// after its answer (or the end of the run, for a lost answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timed {
    pub input: Input,
    pub from_wall_ms: u64,
    pub by_wall_ms: u64,
}

impl Timed {
    /// Whether a hold expiring at `expires_at_ms` was surely past its TTL when this took effect.
    fn surely_after(&self, expires_at_ms: u64) -> bool {
        expires_at_ms + CLOCK_SLACK_MS < self.from_wall_ms
    }

    /// Whether a hold taken by this call with a TTL of `ttl_ms` can expire at `expires_at_ms`:
    /// the log time it was taken at lies in the call's window.
    fn fresh(&self, expires_at_ms: u64, ttl_ms: u64) -> bool {
        let taken_at = expires_at_ms.saturating_sub(ttl_ms);
        taken_at + CLOCK_SLACK_MS >= self.from_wall_ms && taken_at <= self.by_wall_ms.saturating_add(CLOCK_SLACK_MS)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A reserve or a re-hold that held the units until `expires_at_ms`.
    Held {
        expires_at_ms: u64,
    },
    OutOfStock,
    /// A cap refused a reserve, a re-hold or the re-hold of a late confirm.
    LimitExceeded,
    Confirmed,
    Released,
    /// A release refused because the hold had expired.
    Expired,
    /// A confirm or re-hold refused with HOLD_EXPIRED, for this re-hold refusal (`None`: the
    /// final state says the hold expired, but not whether this call was refused or lost).
    Lapsed(Option<Refusal>),
    /// A re-hold of a hold still within its TTL.
    InvalidTransition,
    Available(u32),
    Restocked,
}

/// Why the re-hold rule refused (ErrorDetail.rehold_refusal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    LimitReached,
    GraceWindowPassed,
    NoStock,
}

#[derive(Clone, Debug, Hash)]
struct Open {
    expires_at_ms: u64,
    hold: u32,
    buyer: u32,
    quantity: u32,
    reholds: u32,
}

/// An expired hold, kept because it may be held again.
#[derive(Clone, Copy, Debug, Hash)]
struct Lapsed {
    buyer: u32,
    quantity: u32,
    reholds: u32,
}

/// How an open hold ends.
#[derive(Clone, Copy, PartialEq)]
enum End {
    Confirm,
    Release,
    Expire,
}

/// Which call asks for the re-hold: a `Rehold` opens a hold (so the open-hold cap applies), a
/// late `Confirm` pays at once.
#[derive(Clone, Copy, PartialEq)]
enum Again {
    Held,
    Confirmed,
}

#[derive(Clone, Debug)]
pub struct SkuModel {
    available: u64,
    /// Open holds in expiry order (expiry time, then id).
    open: Vec<Open>,
    /// Expired holds by id.
    lapsed: BTreeMap<u32, Lapsed>,
    /// Per buyer: (units held or bought, open holds).
    usage: BTreeMap<u32, (u32, u32)>,
    units_cap: u32,
    open_cap: u32,
    rehold_limit: u32,
    /// The SKU's hold TTL: a hold taken (or re-held) at log time t expires at t + TTL.
    ttl_ms: u64,
}

impl SkuModel {
    pub fn new(units: u32, units_cap: u32, open_cap: u32, rehold_limit: u32, ttl_ms: u64) -> SkuModel {
        SkuModel {
            ttl_ms,
            available: u64::from(units),
            open: Vec::new(),
            lapsed: BTreeMap::new(),
            usage: BTreeMap::new(),
            units_cap,
            open_cap,
            rehold_limit,
        }
    }

    fn caps_allow(&self, buyer: u32, quantity: u32) -> bool {
        self.caps_allow_again(buyer, quantity, Again::Held)
    }

    /// The caps for a new hold (`Held`) or for units bought at once (`Confirmed`).
    fn caps_allow_again(&self, buyer: u32, quantity: u32, again: Again) -> bool {
        let (units, open) = self.usage.get(&buyer).copied().unwrap_or_default();
        units + quantity <= self.units_cap && (again == Again::Confirmed || open < self.open_cap)
    }

    fn hold_open(&mut self, open: Open) {
        self.available -= u64::from(open.quantity);
        let usage = self.usage.entry(open.buyer).or_default();
        usage.0 += open.quantity;
        usage.1 += 1;
        let at = self.open.partition_point(|o| (o.expires_at_ms, o.hold) < (open.expires_at_ms, open.hold));
        self.open.insert(at, open);
    }

    /// The hold as an expired one: already expired, or HELD past its TTL by `by` and expired
    /// now (just it, as the core does). `None`: it is neither.
    fn lapse(&mut self, hold: u32, by: u64) -> Option<Lapsed> {
        if let Some(lapsed) = self.lapsed.get(&hold) {
            return Some(*lapsed);
        }
        let at = self.position(hold)?;
        if self.open[at].expires_at_ms > by + CLOCK_SLACK_MS {
            return None;
        }
        self.close(at, End::Expire);
        self.lapsed.get(&hold).copied()
    }

    /// The re-hold rule for an expired hold against the answer `output` (what the core's
    /// `hold_again` decides, in its order: the limit, the caps, then stock). Other holds are
    /// expired lazily where only that explains a success.
    fn hold_again(&mut self, hold: u32, again: Again, output: &Output, by: u64) -> bool {
        let Some(lapsed) = self.lapse(hold, by) else { return false };
        let Lapsed { buyer, quantity, reholds } = lapsed;
        let under_limit = reholds < self.rehold_limit;
        match output {
            Output::Lapsed(None) => true,
            Output::Lapsed(Some(Refusal::LimitReached)) => !under_limit,
            Output::Lapsed(Some(Refusal::GraceWindowPassed)) => false,
            Output::LimitExceeded => under_limit && !self.caps_allow_again(buyer, quantity, again),
            Output::Lapsed(Some(Refusal::NoStock)) => {
                if !under_limit {
                    return false;
                }
                while !self.caps_allow_again(buyer, quantity, again) {
                    if !self.expire_next(by) {
                        return false;
                    }
                }
                self.available < u64::from(quantity)
            }
            Output::Held { .. } | Output::Confirmed
                if under_limit
                    && matches!(
                        (again, output),
                        (Again::Held, Output::Held { .. }) | (Again::Confirmed, Output::Confirmed)
                    ) =>
            {
                while !(self.available >= u64::from(quantity) && self.caps_allow_again(buyer, quantity, again)) {
                    if !self.expire_next(by) {
                        return false;
                    }
                }
                self.lapsed.remove(&hold);
                if let Output::Held { expires_at_ms } = output {
                    let reholds = reholds + 1;
                    self.hold_open(Open { expires_at_ms: *expires_at_ms, hold, buyer, quantity, reholds });
                } else {
                    self.available -= u64::from(quantity);
                    self.usage.entry(buyer).or_default().0 += quantity;
                }
                true
            }
            _ => false,
        }
    }

    fn position(&self, hold: u32) -> Option<usize> {
        self.open.iter().position(|o| o.hold == hold)
    }

    /// Ends the open hold at `at`: release and expiry give its units back, an expired hold
    /// is kept for a re-hold.
    fn close(&mut self, at: usize, end: End) {
        let hold = self.open.remove(at);
        let usage = self.usage.get_mut(&hold.buyer).expect("an open hold's buyer has usage");
        usage.1 -= 1;
        if end != End::Confirm {
            usage.0 -= hold.quantity;
            self.available += u64::from(hold.quantity);
        }
        if *usage == (0, 0) {
            self.usage.remove(&hold.buyer);
        }
        if end == End::Expire {
            let lapsed = Lapsed { buyer: hold.buyer, quantity: hold.quantity, reholds: hold.reholds };
            self.lapsed.insert(hold.hold, lapsed);
        }
    }

    /// Expires the first open hold if it is due by `by_wall_ms`.
    fn expire_next(&mut self, by_wall_ms: u64) -> bool {
        if self.open.first().is_some_and(|o| o.expires_at_ms <= by_wall_ms + CLOCK_SLACK_MS) {
            self.close(0, End::Expire);
            true
        } else {
            false
        }
    }
}

impl Model for SkuModel {
    type Input = Timed;
    type Output = Output;

    fn step(&mut self, timed: &Timed, output: Option<&Output>) -> bool {
        let by = timed.by_wall_ms;
        match (&timed.input, output) {
            (Input::Reserve { hold, buyer, quantity }, Some(Output::Held { expires_at_ms })) => {
                if !timed.fresh(*expires_at_ms, self.ttl_ms) {
                    return false;
                }
                while !(self.available >= u64::from(*quantity) && self.caps_allow(*buyer, *quantity)) {
                    if !self.expire_next(by) {
                        return false;
                    }
                }
                let (hold, buyer, quantity) = (*hold, *buyer, *quantity);
                self.hold_open(Open { expires_at_ms: *expires_at_ms, hold, buyer, quantity, reholds: 0 });
                true
            }
            (Input::Reserve { buyer, quantity, .. }, Some(Output::OutOfStock)) => {
                // The caps passed (they are checked first), the stock did not.
                while !self.caps_allow(*buyer, *quantity) {
                    if !self.expire_next(by) {
                        return false;
                    }
                }
                self.available < u64::from(*quantity)
            }
            (Input::Reserve { buyer, quantity, .. }, Some(Output::LimitExceeded)) => {
                !self.caps_allow(*buyer, *quantity)
            }
            (Input::Confirm { hold }, Some(Output::Confirmed)) => match self.position(*hold) {
                Some(at) if !timed.surely_after(self.open[at].expires_at_ms) => {
                    self.close(at, End::Confirm);
                    true
                }
                _ => self.hold_again(*hold, Again::Confirmed, &Output::Confirmed, by),
            },
            (Input::Confirm { hold }, Some(output @ (Output::Lapsed(_) | Output::LimitExceeded))) => {
                self.hold_again(*hold, Again::Confirmed, output, by)
            }
            // Still HELD: its TTL had not passed when the leader applied the re-hold.
            (Input::Rehold { hold }, Some(Output::InvalidTransition)) => {
                self.position(*hold).is_some_and(|at| !timed.surely_after(self.open[at].expires_at_ms))
            }
            (Input::Rehold { hold }, Some(output @ Output::Held { expires_at_ms })) => {
                // A re-hold starts a fresh TTL at the log time it is applied at.
                timed.fresh(*expires_at_ms, self.ttl_ms) && self.hold_again(*hold, Again::Held, output, by)
            }
            (Input::Rehold { hold }, Some(output)) => self.hold_again(*hold, Again::Held, output, by),
            (Input::Release { hold }, Some(Output::Released)) => match self.position(*hold) {
                Some(at) => {
                    self.close(at, End::Release);
                    true
                }
                None => false,
            },
            (Input::Release { hold }, Some(Output::Expired)) => {
                // An Expire command took it, and with it every hold due before it.
                while self.position(*hold).is_some() {
                    if !self.expire_next(by) {
                        return false;
                    }
                }
                true
            }
            (Input::Read, Some(Output::Available(units))) => {
                while self.available < u64::from(*units) {
                    if !self.expire_next(by) {
                        return false;
                    }
                }
                self.available == u64::from(*units)
            }
            (Input::Restock { units }, Some(Output::Restocked) | None) => {
                self.available += u64::from(*units);
                true
            }
            // Unknown reserves, confirms and releases are resolved from the final state before
            // the search; any still unknown here never took effect.
            _ => false,
        }
    }

    fn is_noop(&self, timed: &Timed, output: &Output) -> bool {
        match (&timed.input, output) {
            (Input::Read, Output::Available(units)) => self.available == u64::from(*units),
            (Input::Reserve { buyer, quantity, .. }, Output::OutOfStock) => {
                self.caps_allow(*buyer, *quantity) && self.available < u64::from(*quantity)
            }
            (Input::Reserve { buyer, quantity, .. }, Output::LimitExceeded) => !self.caps_allow(*buyer, *quantity),
            (Input::Release { hold }, Output::Expired) => self.position(*hold).is_none(),
            (Input::Confirm { hold } | Input::Rehold { hold }, Output::Lapsed(Some(Refusal::LimitReached))) => {
                self.lapsed.get(hold).is_some_and(|l| l.reholds >= self.rehold_limit)
            }
            (Input::Confirm { hold } | Input::Rehold { hold }, Output::Lapsed(None)) => self.lapsed.contains_key(hold),
            _ => false,
        }
    }

    fn digest(&self) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        self.available.hash(&mut hasher);
        self.open.hash(&mut hasher);
        self.lapsed.hash(&mut hasher);
        self.usage.hash(&mut hasher);
        hasher.finish()
    }
}
