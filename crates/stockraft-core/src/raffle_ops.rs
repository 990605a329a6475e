//! Applying raffles: creating one (with the seed's commitment), taking entries, and the draw,
//! which turns the entries into the SKU's waitlist in draw order, so winners get holds as stock
//! allows and unpaid or released holds pass to the next entrant, by the waitlist's own rules.

use crate::catalog::SkuIndex;
use crate::command::{CreateRaffle, KeyedReserve};
use crate::error::{Capacity, EntityKind, RaffleRefusal, Rejection};
use crate::ids::SkuId;
use crate::limits::RAFFLE_ENTRIES_MAX;
use crate::raffle::{Draw, Raffle, commitment, draw_order};
use crate::reply::{Applied, Outcome, WaitlistReceipt};
use crate::rules::DeductionMode;
use crate::state::State;
use crate::waitlist::Waiting;
use crate::waitlist_ops::Source;

impl State {
    pub(crate) fn create_raffle(&mut self, create: &CreateRaffle) -> Outcome {
        let at = self.sku_at(&create.sku)?;
        if self.skus[at as usize].rules.mode != DeductionMode::PreDeduct {
            return Err(Rejection::invalid(format!(
                "sku {} is not PRE_DEDUCT: a raffle grants its winners holds with a TTL",
                create.sku
            )));
        }
        let undrawn = self.raffles.get(&at).filter(|raffle| raffle.draw.is_none()).map(|r| r.entries_close_at_ms);
        if undrawn.is_some() || self.has_waiting(at) {
            return Err(Rejection::Raffle {
                sku: create.sku.clone(),
                refusal: RaffleRefusal::InProgress,
                entries_close_at_ms: undrawn.unwrap_or(0),
            });
        }
        let raffle =
            Raffle::new(create.entries_open_at_ms, create.entries_close_at_ms, create.seed_sha256, self.clock_ms);
        self.raffles.insert(at, raffle);
        Ok(Applied::Updated)
    }

    /// Open sale of a SKU is closed while its raffle is not drawn.
    pub(crate) fn check_not_raffled(&self, at: SkuIndex) -> Result<(), Rejection> {
        match self.raffles.get(&at).filter(|raffle| raffle.draw.is_none()) {
            None => Ok(()),
            Some(raffle) => Err(Rejection::Raffle {
                sku: self.skus[at as usize].id.clone(),
                refusal: RaffleRefusal::SoldByRaffle,
                entries_close_at_ms: raffle.entries_close_at_ms,
            }),
        }
    }

    fn raffle_at(&self, sku: &SkuId) -> Result<(SkuIndex, &Raffle), Rejection> {
        let at = self.sku_at(sku)?;
        let raffle = self.raffles.get(&at).ok_or_else(|| Rejection::not_found(EntityKind::Raffle, sku))?;
        Ok((at, raffle))
    }

    /// An entry: inside the entry window, one per buyer and per identity key, judged by the
    /// blocklist, the risk rules and the caps (not by stock: the draw decides who gets it).
    pub(crate) fn enter_raffle(&mut self, request: &KeyedReserve) -> Outcome {
        let reserve = &request.reserve;
        let sku = reserve.lines[0].sku.clone();
        let (at, raffle) = self.raffle_at(&sku)?;
        let close = raffle.entries_close_at_ms;
        if raffle.draw.is_some() {
            return Err(Rejection::Raffle { sku, refusal: RaffleRefusal::AlreadyDrawn, entries_close_at_ms: close });
        }
        if self.clock_ms < raffle.entries_open_at_ms {
            let (opens_at_ms, now_ms) = (raffle.entries_open_at_ms, self.clock_ms);
            return Err(Rejection::NotYetOnSale { sku, opens_at_ms, now_ms });
        }
        if self.clock_ms >= close {
            return Err(Rejection::SaleClosed { sku, closed_at_ms: close });
        }
        self.admit(reserve, &request.keys, false, Source::RaffleEntry)?;
        let raffle = &self.raffles[&at];
        if let Some(person) =
            crate::campaign::people(&reserve.buyer, &request.keys).into_iter().find(|p| raffle.people.contains_key(p))
        {
            return Err(Rejection::AlreadyExists {
                kind: EntityKind::RaffleEntry,
                id: person.to_string(),
                detail: format!("one entry per buyer and per identity key in the raffle of SKU {sku}"),
            });
        }
        if raffle.entry_count() >= RAFFLE_ENTRIES_MAX {
            let max = RAFFLE_ENTRIES_MAX as u64;
            return Err(Rejection::CapacityReached { capacity: Capacity::RaffleEntries, of: sku.to_string(), max });
        }
        let entry = Waiting::of(request, self.clock_ms);
        let raffle = self.raffles.get_mut(&at).expect("looked up above");
        raffle.enter(entry);
        let entries = raffle.entry_count() as u32;
        self.raffle_holds.insert(reserve.hold.clone(), at);
        let log_index = self.last_log_index;
        Ok(Applied::RaffleEntered(WaitlistReceipt { sku, hold: reserve.hold.clone(), position: entries, log_index }))
    }

    /// Checks the seed against the commitment, orders the entries (`raffle::draw_order`), and
    /// puts them on the SKU's waitlist in that order, which grants holds at once as stock allows.
    pub(crate) fn draw_raffle(&mut self, sku: &SkuId, seed: &[u8]) -> Outcome {
        let (at, raffle) = self.raffle_at(sku)?;
        let close = raffle.entries_close_at_ms;
        let refused = |refusal| Err(Rejection::Raffle { sku: sku.clone(), refusal, entries_close_at_ms: close });
        if raffle.draw.is_some() {
            return refused(RaffleRefusal::AlreadyDrawn);
        }
        if self.clock_ms < close {
            return refused(RaffleRefusal::EntriesOpen);
        }
        if commitment(seed) != raffle.seed_sha256 {
            return refused(RaffleRefusal::SeedMismatch);
        }
        let order = draw_order(seed, raffle.entries.keys());
        let draw = Draw { seed: seed.to_vec(), drawn_at_ms: self.clock_ms, log_index: self.last_log_index, order };
        let raffle = self.raffles.get_mut(&at).expect("looked up above");
        let entries: Vec<Waiting> = draw.order.iter().map(|hold| raffle.entries[hold].clone()).collect();
        raffle.draw = Some(draw);
        let waitlist = self.waitlists.entry(at).or_default();
        debug_assert!(waitlist.is_empty(), "nobody may wait on a SKU whose raffle is not drawn");
        for entry in entries {
            self.raffle_holds.remove(&entry.hold);
            let hold = entry.hold.clone();
            let (ticket, _) = waitlist.join(entry);
            self.waiting_holds.insert(hold, (at, ticket));
        }
        let drawn = self.waitlists[&at].len();
        self.serve_waitlist(at);
        let granted = drawn - self.waitlists[&at].len();
        Ok(Applied::RaffleDrawn { entries: drawn as u32, granted: granted as u32, log_index: self.last_log_index })
    }
}
