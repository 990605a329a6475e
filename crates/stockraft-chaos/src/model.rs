//! The sequential specification of one SKU the linearizability search checks each SKU's
//! history against: written from PRODUCT.md, independently of stockraft-core, so that a bug
//! in the core cannot hide by being in the model too.
//!
//! One SKU with one component (one unit of one item per unit of the SKU) and split allowed,
//! so the SKU's units on sale are the sum over its warehouses. Holds are PRE_DEDUCT with a
//! TTL and no re-holds; buyers have a unit cap (open holds plus confirmed) and an open-hold cap.
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
//! - a late confirm expires just its own hold (what stockraft-core does when a confirm finds its
//!   hold past its TTL before the next `Expire`).
//!
//! Expiring later than the log did never makes an answer impossible that expiring earlier made
//! possible (every check is monotone in the units and caps expiry gives back), so this lazy
//! choice finds a linearization whenever one exists.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use stockraft_check::Model;

/// Leeway between the leader's clock reading and the client's, in milliseconds.
pub const CLOCK_SLACK_MS: u64 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Reserve { hold: u32, buyer: u32, quantity: u32 },
    Confirm { hold: u32 },
    Release { hold: u32 },
    Read,
    Restock { units: u32 },
}

/// An operation and the latest wall-clock time it can have taken effect at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timed {
    pub input: Input,
    pub by_wall_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Held {
        expires_at_ms: u64,
    },
    OutOfStock,
    LimitExceeded,
    Confirmed,
    Released,
    /// A confirm refused with HOLD_EXPIRED, or a release refused because the hold had expired.
    Expired,
    Available(u32),
    Restocked,
}

#[derive(Clone, Debug, Hash)]
struct Open {
    expires_at_ms: u64,
    hold: u32,
    buyer: u32,
    quantity: u32,
}

#[derive(Clone, Debug)]
pub struct SkuModel {
    available: u64,
    /// Open holds in expiry order (expiry time, then id).
    open: Vec<Open>,
    /// Per buyer: (units held or bought, open holds).
    usage: BTreeMap<u32, (u32, u32)>,
    units_cap: u32,
    open_cap: u32,
}

impl SkuModel {
    pub fn new(units: u32, units_cap: u32, open_cap: u32) -> SkuModel {
        SkuModel { available: u64::from(units), open: Vec::new(), usage: BTreeMap::new(), units_cap, open_cap }
    }

    fn caps_allow(&self, buyer: u32, quantity: u32) -> bool {
        let (units, open) = self.usage.get(&buyer).copied().unwrap_or_default();
        units + quantity <= self.units_cap && open < self.open_cap
    }

    fn position(&self, hold: u32) -> Option<usize> {
        self.open.iter().position(|o| o.hold == hold)
    }

    /// Ends the open hold at `at`; `gives_back` for release and expiry (not confirm).
    fn close(&mut self, at: usize, gives_back: bool) {
        let hold = self.open.remove(at);
        let usage = self.usage.get_mut(&hold.buyer).expect("an open hold's buyer has usage");
        usage.1 -= 1;
        if gives_back {
            usage.0 -= hold.quantity;
            self.available += u64::from(hold.quantity);
        }
        if *usage == (0, 0) {
            self.usage.remove(&hold.buyer);
        }
    }

    /// Expires the first open hold if it is due by `by_wall_ms`.
    fn expire_next(&mut self, by_wall_ms: u64) -> bool {
        if self.open.first().is_some_and(|o| o.expires_at_ms <= by_wall_ms + CLOCK_SLACK_MS) {
            self.close(0, true);
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
                while !(self.available >= u64::from(*quantity) && self.caps_allow(*buyer, *quantity)) {
                    if !self.expire_next(by) {
                        return false;
                    }
                }
                self.available -= u64::from(*quantity);
                let usage = self.usage.entry(*buyer).or_default();
                usage.0 += quantity;
                usage.1 += 1;
                let open = Open { expires_at_ms: *expires_at_ms, hold: *hold, buyer: *buyer, quantity: *quantity };
                let at = self.open.partition_point(|o| (o.expires_at_ms, o.hold) < (open.expires_at_ms, open.hold));
                self.open.insert(at, open);
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
                Some(at) => {
                    self.close(at, false);
                    true
                }
                None => false,
            },
            (Input::Confirm { hold }, Some(Output::Expired)) => match self.position(*hold) {
                // Past its TTL, not yet expired by the log: the confirm expires it.
                Some(at) if self.open[at].expires_at_ms <= by + CLOCK_SLACK_MS => {
                    self.close(at, true);
                    true
                }
                Some(_) => false,
                // Already expired (each hold gets one confirm or release, so that is the only
                // way it can have left the open set).
                None => true,
            },
            (Input::Release { hold }, Some(Output::Released)) => match self.position(*hold) {
                Some(at) => {
                    self.close(at, true);
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
            (Input::Confirm { hold } | Input::Release { hold }, Output::Expired) => self.position(*hold).is_none(),
            _ => false,
        }
    }

    fn digest(&self) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        self.available.hash(&mut hasher);
        self.open.hash(&mut hasher);
        self.usage.hash(&mut hasher);
        hasher.finish()
    }
}
