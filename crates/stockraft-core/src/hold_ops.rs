//! Applying the order platform's commands: reserve, deduct, confirm, re-hold (the re-hold rule),
//! release, ship and cancel. Every command checks everything first and changes state last, so a
//! rejection leaves stock, holds and buyers as they were.

use crate::catalog::SkuIndex;
use crate::command::Reserve;
use crate::error::{EntityKind, ExpiredReason, LimitKind, Rejection, RiskReason};
use crate::expiry_index::Scheduled;
use crate::hold::{Allocation, Hold, HoldLine, HoldState};
use crate::ids::{BuyerId, HoldId, IdentityKey};
use crate::ledger::{Deltas, LedgerOp};
use crate::reply::{AllocationView, Applied, HoldReceipt, Outcome};
use crate::rules::{BuyerSignals, DeductionMode, RiskVerdict};
use crate::state::{BuyerUsage, HoldExtras, State};
use crate::stock_ops::signed;
use crate::waitlist_ops::Source;
use smallvec::SmallVec;

/// A request's lines by SKU index: (SKU, units).
pub(crate) type Wanted = SmallVec<[(SkuIndex, u32); 4]>;

/// What a re-held hold becomes: HELD again (`Rehold`) or CONFIRMED at once (a late confirm).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Again {
    Held,
    Confirmed,
}

/// Which stock figures a hold's units move between.
#[derive(Clone, Copy)]
struct Movement {
    op: LedgerOp,
    held: i32,
    committed: i32,
    on_hand: i32,
}

const RESERVE: Movement = Movement { op: LedgerOp::Reserve, held: 1, committed: 0, on_hand: 0 };
const DEDUCT: Movement = Movement { op: LedgerOp::Deduct, held: 0, committed: 1, on_hand: 0 };
const CONFIRM: Movement = Movement { op: LedgerOp::Confirm, held: -1, committed: 1, on_hand: 0 };
const REHOLD_HELD: Movement = Movement { op: LedgerOp::Rehold, held: 1, committed: 0, on_hand: 0 };
const REHOLD_CONFIRMED: Movement = Movement { op: LedgerOp::Rehold, held: 0, committed: 1, on_hand: 0 };
const RELEASE: Movement = Movement { op: LedgerOp::Release, held: -1, committed: 0, on_hand: 0 };
const EXPIRE: Movement = Movement { op: LedgerOp::Expire, held: -1, committed: 0, on_hand: 0 };
const SHIP: Movement = Movement { op: LedgerOp::Ship, held: 0, committed: -1, on_hand: -1 };
const CANCEL: Movement = Movement { op: LedgerOp::Cancel, held: 0, committed: -1, on_hand: 0 };

impl State {
    /// Takes a hold: ON_ORDER (no expiry) and PRE_DEDUCT (TTL) lines.
    pub(crate) fn reserve(&mut self, reserve: &Reserve, keys: &[IdentityKey]) -> Outcome {
        self.take(reserve, keys, HoldState::Held, Source::Open)
    }

    /// Allocates and commits in one step: ON_PAYMENT lines.
    pub(crate) fn deduct(&mut self, deduct: &Reserve, keys: &[IdentityKey]) -> Outcome {
        self.take(deduct, keys, HoldState::Confirmed, Source::Open)
    }

    /// Takes a hold for an open-sale request, or grants one to a waitlist place (`source`).
    pub(crate) fn take(
        &mut self,
        request: &Reserve,
        keys: &[IdentityKey],
        state: HoldState,
        source: Source,
    ) -> Outcome {
        let deducting = state == HoldState::Confirmed;
        let (lines, ttl_ms) = self.admit(request, keys, deducting, source)?;
        let plan = self.plan(request.region.as_deref(), &lines)?;

        let hold = Hold {
            id: request.hold.clone(),
            buyer: request.buyer.clone(),
            region: request.region.clone(),
            state,
            lines: plan.lines,
            allocations: plan.allocations,
            created_at_ms: self.clock_ms,
            expires_at_ms: ttl_ms.map(|ttl| self.clock_ms + ttl),
            serial: self.next_hold_serial,
            closed_at_ms: None,
            rehold_count: 0,
        };
        self.next_hold_serial += 1;
        if !keys.is_empty() {
            let extras = HoldExtras { keys: keys.iter().cloned().collect(), campaigns: SmallVec::new() };
            self.hold_extras.insert(hold.id.clone(), extras);
        }
        self.move_units(&hold.id, &hold.allocations, if deducting { DEDUCT } else { RESERVE });
        self.track(&hold.id, &hold.buyer, &hold.lines, 1, if deducting { 0 } else { 1 });
        self.count_in_campaigns(&hold.id, hold.serial, &hold.buyer, &hold.lines);
        let receipt = self.receipt(&hold, false);
        let (expires_at, serial) = (hold.expires_at_ms, hold.serial);
        let slot = self.holds.insert(hold);
        if let Some(expires_at_ms) = expires_at {
            self.expiry.schedule(Scheduled { expires_at_ms, serial, slot });
        }
        Ok(Applied::Hold(receipt))
    }

    /// Every check of a reserve or deduct but stock: the order id, the SKUs' modes, the sale
    /// window, the blocklist, the risk rules (not for a waitlist grant: judged when the place
    /// was taken), the per-buyer and per-key caps, the campaigns, and whether open sale is
    /// closed (a raffle, or buyers waiting). Returns the lines by SKU index and the TTL.
    pub(crate) fn admit(
        &self,
        request: &Reserve,
        keys: &[IdentityKey],
        deducting: bool,
        source: Source,
    ) -> Result<(Wanted, Option<u64>), Rejection> {
        let waiting = source != Source::Waitlist && self.waiting_holds.contains_key(&request.hold);
        let entered = self.raffle_holds.contains_key(&request.hold);
        if self.holds.contains_key(&request.hold) || waiting || entered {
            let detail = match (waiting, entered) {
                (true, _) => "it is waiting on a waitlist",
                (_, true) => "it is entered in a raffle",
                _ => "",
            };
            return Err(Rejection::AlreadyExists {
                kind: EntityKind::Hold,
                id: request.hold.to_string(),
                detail: detail.into(),
            });
        }
        let mut lines: Wanted = SmallVec::new();
        let mut ttl_ms: Option<u64> = None;
        for line in &request.lines {
            let at = self.sku_at(&line.sku)?;
            let rules = &self.skus[at as usize].rules;
            match (rules.mode, deducting) {
                (DeductionMode::OnPayment, false) => {
                    return Err(Rejection::invalid(format!(
                        "sku {} is ON_PAYMENT: deduct at payment instead",
                        line.sku
                    )));
                }
                (DeductionMode::OnOrder | DeductionMode::PreDeduct, true) => {
                    return Err(Rejection::invalid(format!("sku {} takes holds: reserve, then confirm", line.sku)));
                }
                (DeductionMode::PreDeduct, false) => {
                    ttl_ms = Some(ttl_ms.map_or(rules.hold_ttl_ms, |ttl| ttl.min(rules.hold_ttl_ms)));
                }
                _ => {}
            }
            // A raffle's entries have their own window; its winners' holds are granted whenever
            // units come back, like a waitlist's.
            if source == Source::Open {
                self.skus[at as usize].window.check(&line.sku, self.clock_ms)?;
                self.check_not_raffled(at)?;
            }
            let cap = self.screen_buyer(at, &request.buyer, request.signals.as_ref(), source != Source::Waitlist)?;
            self.check_caps(at, &request.buyer, keys, cap, line.quantity, !deducting)?;
            lines.push((at, line.quantity));
        }
        self.check_campaigns(&lines, &request.buyer, keys)?;
        // Buyers are waiting for these units: open sale is closed until the list is served.
        if source == Source::Open
            && let Some(line) = request.lines.iter().zip(&lines).find(|(_, (at, _))| self.has_waiting(*at))
        {
            let waiting = self.waitlists.get(&line.1.0).map_or(0, |list| list.len() as u32);
            return Err(Rejection::OthersWaiting { sku: line.0.sku.clone(), requested: line.0.quantity, waiting });
        }
        Ok((lines, ttl_ms))
    }

    /// The blocklist and (with `judge_risk`) the risk rules for one line; returns the unit cap in
    /// force for this buyer (the SKU's, or a lower one a risk rule set).
    fn screen_buyer(
        &self,
        sku_at: SkuIndex,
        buyer: &BuyerId,
        signals: Option<&BuyerSignals>,
        judge_risk: bool,
    ) -> Result<Option<(u32, LimitKind)>, Rejection> {
        let sku = &self.skus[sku_at as usize];
        if sku.blocklist.contains(buyer) {
            return Err(Rejection::RiskRejected { sku: sku.id.clone(), reason: RiskReason::Blocklisted });
        }
        let mut cap = sku.rules.units_per_buyer_max.map(|units| (units, LimitKind::UnitsPerBuyer));
        if judge_risk && !sku.rules.risk_rules.is_empty() {
            let signals = signals.ok_or_else(|| {
                Rejection::invalid(format!("sku {} has buyer-risk rules: send the buyer's signals", sku.id))
            })?;
            match sku.rules.risk_verdict(signals) {
                RiskVerdict::Allow => {}
                RiskVerdict::Reject(reason) => {
                    return Err(Rejection::RiskRejected { sku: sku.id.clone(), reason });
                }
                RiskVerdict::Cap(units) if cap.is_none_or(|(limit, _)| units < limit) => {
                    cap = Some((units, LimitKind::RiskCap));
                }
                RiskVerdict::Cap(_) => {}
            }
        }
        Ok(cap)
    }

    /// The per-buyer caps of one line (`cap` on units, and the open-hold cap if the line opens a
    /// hold), for the buyer and then for each identity key: the accounts that share a key share
    /// its caps.
    fn check_caps(
        &self,
        sku_at: SkuIndex,
        buyer: &BuyerId,
        keys: &[IdentityKey],
        cap: Option<(u32, LimitKind)>,
        quantity: u32,
        opens_hold: bool,
    ) -> Result<(), Rejection> {
        let sku = &self.skus[sku_at as usize];
        let open_cap = sku.rules.open_holds_per_buyer_max.filter(|_| opens_hold);
        let over = |usage: BuyerUsage| -> Option<(LimitKind, u32, u64)> {
            if let Some((allowed, limit)) = cap {
                let requested = usage.units + u64::from(quantity);
                if requested > u64::from(allowed) {
                    return Some((limit, allowed, requested));
                }
            }
            let allowed = open_cap?;
            let requested = u64::from(usage.open_holds) + 1;
            (requested > u64::from(allowed)).then_some((LimitKind::OpenHoldsPerBuyer, allowed, requested))
        };
        if cap.is_none() && open_cap.is_none() {
            return Ok(());
        }
        if let Some((limit, allowed, requested)) = over(self.usage(sku_at, buyer)) {
            return Err(Rejection::LimitExceeded { sku: sku.id.clone(), limit, allowed, requested });
        }
        for key in keys {
            if let Some((limit, allowed, requested)) = over(self.key_usage.usage(sku_at, key)) {
                return Err(Rejection::KeyLimitExceeded {
                    sku: sku.id.clone(),
                    key: key.clone(),
                    limit,
                    allowed,
                    requested,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn confirm(&mut self, id: &HoldId) -> Outcome {
        let hold = self.hold_at(id)?;
        match hold.state {
            HoldState::Held if self.ttl_passed(hold) => {
                // Its TTL has passed: it expires now, as the next Expire would, and the late
                // confirm is judged by the re-hold rule.
                self.expire_hold(id);
                self.hold_again(id, Again::Confirmed)
            }
            HoldState::Held => {
                let (allocations, lines, buyer) = (hold.allocations.clone(), hold.lines.clone(), hold.buyer.clone());
                self.move_units(id, &allocations, CONFIRM);
                self.track(id, &buyer, &lines, 0, -1);
                Ok(Applied::Hold(self.set_state(id, HoldState::Confirmed, false)))
            }
            HoldState::Expired => self.hold_again(id, Again::Confirmed),
            from => Err(Rejection::InvalidTransition { hold: id.clone(), from, to: HoldState::Confirmed }),
        }
    }

    /// The buyer is back on the payment page after the hold expired: the same lines are held
    /// again with a fresh TTL, under the re-hold rule. A HELD hold whose TTL has passed expires
    /// first, as it would at the next `Expire`.
    pub(crate) fn rehold(&mut self, id: &HoldId) -> Outcome {
        let hold = self.hold_at(id)?;
        match hold.state {
            HoldState::Held if self.ttl_passed(hold) => {
                self.expire_hold(id);
                self.hold_again(id, Again::Held)
            }
            HoldState::Expired => self.hold_again(id, Again::Held),
            from => Err(Rejection::InvalidTransition { hold: id.clone(), from, to: HoldState::Held }),
        }
    }

    fn ttl_passed(&self, hold: &Hold) -> bool {
        hold.expires_at_ms.is_some_and(|at| at <= self.clock_ms)
    }

    /// The re-hold rule, for an EXPIRED hold: under the re-hold limit, within the grace window
    /// after its expiry, with the buyer still within the SKUs' blocklist and caps, and with
    /// stock for every line. Takes fresh allocations and leaves the hold HELD with a fresh TTL
    /// (`Rehold`) or CONFIRMED (a late confirm, which re-holds and pays in one step). Either
    /// way it counts one re-hold. Risk rules were judged at reserve and are not asked again:
    /// the hold does not keep the buyer's signals.
    fn hold_again(&mut self, id: &HoldId, again: Again) -> Outcome {
        let hold = &self.holds[id];
        let expired = |reason| Err(Rejection::HoldExpired { hold: id.clone(), reason });
        let skus = hold.lines.iter().map(|line| &self.skus[line.sku as usize].rules);
        let limit = skus.clone().map(|rules| rules.rehold_limit).min().unwrap_or(0);
        let grace_ms = skus.clone().map(|rules| rules.rehold_grace_ms).min().unwrap_or(0);
        if hold.rehold_count >= limit {
            return expired(ExpiredReason::ReholdLimitReached);
        }
        let expired_at = hold.expires_at_ms.expect("only holds with a TTL expire");
        if self.clock_ms > expired_at.saturating_add(grace_ms) {
            return expired(ExpiredReason::GraceWindowPassed);
        }
        // The TTL of a fresh hold on these lines, as `take` would give it.
        let pre_deduct = skus.clone().filter(|rules| rules.mode == DeductionMode::PreDeduct);
        let ttl_ms =
            pre_deduct.map(|rules| rules.hold_ttl_ms).min().or_else(|| skus.map(|rules| rules.hold_ttl_ms).min());
        let keys = self.hold_extras.get(id).map(|extras| extras.keys.clone()).unwrap_or_default();
        for line in &hold.lines {
            let sku = &self.skus[line.sku as usize];
            if sku.blocklist.contains(&hold.buyer) {
                return Err(Rejection::RiskRejected { sku: sku.id.clone(), reason: RiskReason::Blocklisted });
            }
            let cap = sku.rules.units_per_buyer_max.map(|units| (units, LimitKind::UnitsPerBuyer));
            self.check_caps(line.sku, &hold.buyer, &keys, cap, line.quantity, again == Again::Held)?;
        }
        let wanted_caps: SmallVec<[(SkuIndex, u32); 4]> =
            hold.lines.iter().map(|line| (line.sku, line.quantity)).collect();
        self.check_campaigns(&wanted_caps, &hold.buyer, &keys)?;
        let Ok(plan) = self.plan(hold.region.as_deref(), &wanted_caps) else {
            return expired(ExpiredReason::NoStockForRehold);
        };
        let (buyer, serial) = (hold.buyer.clone(), hold.serial);
        let (movement, open_sign, expires_at_ms) = match again {
            Again::Held => (REHOLD_HELD, 1, ttl_ms.map(|ttl| self.clock_ms + ttl)),
            Again::Confirmed => (REHOLD_CONFIRMED, 0, Some(expired_at)),
        };
        self.move_units(id, &plan.allocations, movement);
        self.track(id, &buyer, &plan.lines, 1, open_sign);
        self.count_in_campaigns(id, serial, &buyer, &plan.lines);
        self.holds.update(id, |hold| {
            hold.lines = plan.lines;
            hold.allocations = plan.allocations;
            hold.rehold_count += 1;
            hold.closed_at_ms = None;
            hold.expires_at_ms = expires_at_ms;
        });
        let state = match again {
            Again::Held => {
                let expires_at_ms = expires_at_ms.expect("a re-held hold has a TTL");
                let slot = self.holds.slot_of(id).expect("hold exists");
                self.expiry.schedule(Scheduled { expires_at_ms, serial, slot });
                HoldState::Held
            }
            Again::Confirmed => HoldState::Confirmed,
        };
        Ok(Applied::Hold(self.set_state(id, state, true)))
    }

    pub(crate) fn release(&mut self, id: &HoldId) -> Outcome {
        let hold = self.hold_at(id)?;
        if hold.state != HoldState::Held {
            return Err(Rejection::InvalidTransition { hold: id.clone(), from: hold.state, to: HoldState::Released });
        }
        Ok(Applied::Hold(self.end_open_hold(id, RELEASE, HoldState::Released)))
    }

    /// Expires one HELD hold: its units go back on sale. Used by `Expire` and late confirms.
    pub(crate) fn expire_hold(&mut self, id: &HoldId) {
        // Its units are free: waiting buyers are served at the end of this entry, even when the
        // request that expired it is then refused.
        self.changed_this_entry = true;
        self.end_open_hold(id, EXPIRE, HoldState::Expired);
    }

    fn end_open_hold(&mut self, id: &HoldId, movement: Movement, state: HoldState) -> HoldReceipt {
        let hold = &self.holds[id];
        debug_assert_eq!(hold.state, HoldState::Held);
        let (allocations, lines, buyer) = (hold.allocations.clone(), hold.lines.clone(), hold.buyer.clone());
        self.move_units(id, &allocations, movement);
        self.track(id, &buyer, &lines, -1, -1);
        self.uncount_in_campaigns(id);
        self.set_state(id, state, false)
    }

    pub(crate) fn ship(&mut self, id: &HoldId) -> Outcome {
        let hold = self.hold_at(id)?;
        if hold.state != HoldState::Confirmed {
            return Err(Rejection::InvalidTransition { hold: id.clone(), from: hold.state, to: HoldState::Shipped });
        }
        let arrived = hold
            .allocations
            .iter()
            .all(|taken| self.items[taken.item as usize].level(taken.warehouse).on_hand >= taken.quantity);
        if !arrived {
            return Err(Rejection::NotYetArrived { hold: id.clone() });
        }
        let allocations = hold.allocations.clone();
        self.move_units(id, &allocations, SHIP);
        Ok(Applied::Hold(self.set_state(id, HoldState::Shipped, false)))
    }

    pub(crate) fn cancel(&mut self, id: &HoldId) -> Outcome {
        let hold = self.hold_at(id)?;
        if hold.state != HoldState::Confirmed {
            return Err(Rejection::InvalidTransition { hold: id.clone(), from: hold.state, to: HoldState::Cancelled });
        }
        let (allocations, lines, buyer) = (hold.allocations.clone(), hold.lines.clone(), hold.buyer.clone());
        self.move_units(id, &allocations, CANCEL);
        self.track(id, &buyer, &lines, -1, 0);
        self.uncount_in_campaigns(id);
        Ok(Applied::Hold(self.set_state(id, HoldState::Cancelled, false)))
    }

    fn hold_at(&self, id: &HoldId) -> Result<&Hold, Rejection> {
        self.holds.get(id).ok_or_else(|| Rejection::not_found(EntityKind::Hold, id))
    }

    /// Moves a hold's units between stock figures, one ledger entry per allocation.
    fn move_units(&mut self, id: &HoldId, allocations: &[Allocation], movement: Movement) {
        for taken in allocations {
            let units = signed(taken.quantity);
            let deltas = Deltas {
                held: movement.held * units,
                committed: movement.committed * units,
                on_hand: movement.on_hand * units,
                ..Deltas::default()
            };
            let before = self.items[taken.item as usize].level(taken.warehouse).shortfall();
            let after = self.move_stock(taken.item, taken.warehouse, movement.op, deltas, Some(id), "");
            debug_assert!(after.shortfall() <= before, "{:?} of hold {id} raised a shortfall", movement.op);
        }
    }

    /// Adjusts the usage (units and open holds) of the buyer and of the hold's identity keys,
    /// and each SKU's live presale units. Presale units follow the units: they count while the
    /// hold counts for the buyer.
    pub(crate) fn track(
        &mut self,
        hold: &HoldId,
        buyer: &BuyerId,
        lines: &[HoldLine],
        units_sign: i32,
        open_sign: i32,
    ) {
        let keys = self.hold_extras.get(hold).map_or(&[][..], |extras| &extras.keys[..]);
        for line in lines {
            let units = units_sign * signed(line.quantity);
            self.buyers.add(line.sku, buyer, units, open_sign);
            for key in keys {
                self.key_usage.add(line.sku, key, units, open_sign);
            }
            let sku = &mut self.skus[line.sku as usize];
            sku.presale_units_live = sku
                .presale_units_live
                .checked_add_signed(units_sign * signed(line.presale_units))
                .expect("presale units underflow");
        }
    }

    /// Moves a hold to `state` (recording when it closed) and returns its receipt.
    fn set_state(&mut self, id: &HoldId, state: HoldState, reheld: bool) -> HoldReceipt {
        let now = self.clock_ms;
        let from = self.holds[id].state;
        assert!(from.can_become(state), "hold {id}: illegal transition {from:?} -> {state:?}");
        let hold = self.holds.set_state(id, state);
        if state.is_closed() {
            hold.closed_at_ms = Some(now);
            self.closed.push_back((now, id.clone()));
        }
        self.receipt(&self.holds[id], reheld)
    }

    pub(crate) fn receipt(&self, hold: &Hold, reheld: bool) -> HoldReceipt {
        HoldReceipt {
            hold: hold.id.clone(),
            state: hold.state,
            expires_at_ms: hold.expires_at_ms,
            allocations: hold.allocations.clone(),
            reheld,
            log_index: self.last_log_index,
        }
    }

    /// An allocation with the ids a client understands. Catalog indexes never change, so this
    /// is valid for any allocation the ledger ever returned.
    pub fn allocation_view(&self, taken: &Allocation) -> AllocationView {
        AllocationView {
            item: self.items[taken.item as usize].id.clone(),
            warehouse: self.warehouses[taken.warehouse as usize].id.clone(),
            quantity: taken.quantity,
        }
    }
}
