//! Applying waitlists: opening one, taking a place when a reserve is refused for stock, leaving
//! it, and serving it when units come back.
//!
//! Fairness is one rule: while anyone waits for a SKU, open sale of it is closed (a reserve is
//! refused `OthersWaiting`, which the API reports as out of stock), and every unit that comes back is first offered
//! to the places in the order they were taken, in the same command that freed it (a release,
//! an expiry, a cancel, a receipt, a count, a re-activated warehouse). A bot that refreshes
//! faster only takes a place further back.

use crate::catalog::SkuIndex;
use crate::command::KeyedReserve;
use crate::error::{Capacity, EntityKind, Rejection};
use crate::hold::HoldState;
use crate::ids::{HoldId, SkuId};
use crate::limits::{WAITLIST_GRANTS_PER_COMMAND_MAX, WAITLIST_SERVE_SCAN_MAX};
use crate::reply::{Applied, Outcome, WaitlistReceipt};
use crate::rules::DeductionMode;
use crate::state::State;
use crate::waitlist::Waiting;

/// Who is taking a hold: a buyer in open sale (judged by all the rules), a waitlist place (or
/// a raffle winner) being granted (judged by the risk rules when the place was taken, and not
/// asked again: the place does not keep the buyer's signals), or a raffle entry being judged
/// (every rule but stock and the sale window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Open,
    Waitlist,
    RaffleEntry,
}

impl State {
    /// Opens, resizes or (with 0) closes to new buyers a SKU's waitlist. Those waiting keep
    /// their places, whatever the new size.
    pub(crate) fn set_waitlist(&mut self, sku: &SkuId, length_max: u32) -> Outcome {
        let at = self.sku_at(sku)?;
        if self.skus[at as usize].rules.mode != DeductionMode::PreDeduct && length_max > 0 {
            return Err(Rejection::invalid(format!(
                "sku {sku} is not PRE_DEDUCT: a waitlist grants holds with a TTL, so only PRE_DEDUCT SKUs keep one"
            )));
        }
        self.waitlists.entry(at).or_default().length_max = length_max;
        Ok(Applied::Updated)
    }

    /// A reserve that takes a place on the waitlist if it is refused for stock.
    pub(crate) fn reserve_or_wait(&mut self, request: &KeyedReserve) -> Outcome {
        let line = &request.reserve.lines[0];
        let at = self.sku_at(&line.sku)?;
        let Some(waitlist) = self.waitlists.get(&at).filter(|list| list.length_max > 0 || !list.is_empty()) else {
            return Err(Rejection::invalid(format!("sku {} keeps no waitlist: reserve without waiting", line.sku)));
        };
        let closed = waitlist.length_max == 0;
        match self.reserve(&request.reserve, &request.keys) {
            Err(Rejection::OutOfStock { .. } | Rejection::OthersWaiting { .. }) if closed => {
                Err(Rejection::CapacityReached { capacity: Capacity::WaitlistLength, of: line.sku.to_string(), max: 0 })
            }
            Err(Rejection::OutOfStock { .. } | Rejection::OthersWaiting { .. }) => self.join_waitlist(at, request),
            taken => taken,
        }
    }

    fn join_waitlist(&mut self, at: SkuIndex, request: &KeyedReserve) -> Outcome {
        let reserve = &request.reserve;
        let sku = self.skus[at as usize].id.clone();
        if self.waiting_holds.contains_key(&reserve.hold) {
            return Err(Rejection::AlreadyExists {
                kind: EntityKind::Hold,
                id: reserve.hold.to_string(),
                detail: "it is waiting on a waitlist".into(),
            });
        }
        let waitlist = self.waitlists.get_mut(&at).expect("checked by reserve_or_wait");
        if let Some(person) = waitlist.waiting_person(&reserve.buyer, &request.keys) {
            return Err(Rejection::AlreadyExists {
                kind: EntityKind::WaitlistPlace,
                id: person.to_string(),
                detail: format!("one place per buyer and per identity key on the waitlist of SKU {sku}"),
            });
        }
        if waitlist.len() >= waitlist.length_max as usize {
            let max = u64::from(waitlist.length_max);
            return Err(Rejection::CapacityReached { capacity: Capacity::WaitlistLength, of: sku.to_string(), max });
        }
        let waiting = Waiting::of(request, self.clock_ms);
        let (ticket, position) = waitlist.join(waiting);
        self.waiting_holds.insert(reserve.hold.clone(), (at, ticket));
        let log_index = self.last_log_index;
        Ok(Applied::Waitlisted(WaitlistReceipt { sku, hold: reserve.hold.clone(), position, log_index }))
    }

    pub(crate) fn leave_waitlist(&mut self, sku: &SkuId, hold: &HoldId) -> Outcome {
        let at = self.sku_at(sku)?;
        let not_waiting = || Rejection::not_found(EntityKind::WaitlistPlace, format!("order {hold} on SKU {sku}"));
        let &(waiting_at, ticket) = self.waiting_holds.get(hold).ok_or_else(not_waiting)?;
        if waiting_at != at {
            return Err(not_waiting());
        }
        self.waiting_holds.remove(hold);
        self.waitlists.get_mut(&at).expect("an indexed place has its list").remove(ticket);
        Ok(Applied::Updated)
    }

    /// Whether open sale of this SKU is closed because buyers are waiting for it.
    pub(crate) fn has_waiting(&self, at: SkuIndex) -> bool {
        !self.waiting_holds.is_empty() && self.waitlists.get(&at).is_some_and(|list| !list.is_empty())
    }

    /// Grants holds to waiting buyers, first-fit in order, from whatever units are free: called
    /// at the end of every command, so units go to the waitlist in the entry that freed them.
    pub(crate) fn serve_waitlists(&mut self) {
        if self.waiting_holds.is_empty() {
            return;
        }
        let waiting: Vec<SkuIndex> =
            self.waitlists.iter().filter(|(_, list)| !list.is_empty()).map(|(&at, _)| at).collect();
        for at in waiting {
            self.serve_waitlist(at);
        }
    }

    /// Now, if a list has more to grant than one command could; else the earliest opening of a
    /// sale window that buyers wait behind and that their list has not been served at since. (A refused request that carries the clock past the opening
    /// serves nobody: refusals change nothing. The next `Expire` does.)
    pub(crate) fn next_waitlist_opening_ms(&self) -> Option<u64> {
        if self.waiting_holds.is_empty() {
            return None;
        }
        let waiting = self.waitlists.iter().filter(|(_, list)| !list.is_empty());
        let openings = waiting.filter_map(|(&at, list)| match list.more_to_grant {
            true => Some(self.clock_ms),
            false => self.skus[at as usize].window.opens_at_ms.filter(|&opens| opens > list.served_at_ms),
        });
        openings.min()
    }

    /// Serves one list: grants in order while units are free, passing over (and keeping) the
    /// places that do not fit, at most [`WAITLIST_SERVE_SCAN_MAX`] of them, and granting at most
    /// [`WAITLIST_GRANTS_PER_COMMAND_MAX`] holds; past that, the list notes it has more to grant
    /// and the next `Expire` is due at once.
    pub(crate) fn serve_waitlist(&mut self, at: SkuIndex) {
        if !self.skus[at as usize].window.is_open(self.clock_ms) {
            return;
        }
        let clock_ms = self.clock_ms;
        let list = self.waitlists.get_mut(&at).expect("the list exists");
        list.served_at_ms = clock_ms;
        list.more_to_grant = false;
        let (mut passed, mut granted) = (0, 0);
        let mut after = None;
        loop {
            let free = self.availability_at(at);
            if free.sellable_units == 0 && free.presale_units == 0 {
                return;
            }
            let list = &self.waitlists[&at];
            let next = match after {
                None => list.queue.iter().next(),
                Some(ticket) => {
                    list.queue.range((std::ops::Bound::Excluded(ticket), std::ops::Bound::Unbounded)).next()
                }
            };
            let Some((&ticket, waiting)) = next else { return };
            if granted == WAITLIST_GRANTS_PER_COMMAND_MAX {
                self.waitlists.get_mut(&at).expect("the list exists").more_to_grant = true;
                return;
            }
            let reserve = crate::command::Reserve {
                hold: waiting.hold.clone(),
                buyer: waiting.buyer.clone(),
                region: waiting.region.clone(),
                signals: None,
                lines: vec![crate::command::Line {
                    sku: self.skus[at as usize].id.clone(),
                    quantity: waiting.quantity,
                }],
            };
            let keys = waiting.keys.to_vec();
            if self.take(&reserve, &keys, HoldState::Held, Source::Waitlist).is_ok() {
                self.waiting_holds.remove(&reserve.hold);
                self.waitlists.get_mut(&at).expect("the list exists").remove(ticket);
                granted += 1;
            } else {
                // Not enough for this place, or its buyer is over a cap now: passed over, keeping
                // the place.
                passed += 1;
                if passed == WAITLIST_SERVE_SCAN_MAX {
                    return;
                }
            }
            after = Some(ticket);
        }
    }
}
