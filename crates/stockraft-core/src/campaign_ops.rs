//! Applying campaigns: creating and changing them, checking their caps for a reserve, and
//! counting (and taking back) what holds take under them.

use crate::campaign::{Campaign, CampaignIndex, Counted, people};
use crate::catalog::SkuIndex;
use crate::command::UpsertCampaign;
use crate::error::{Capacity, Rejection};
use crate::hold::HoldLine;
use crate::ids::{BuyerId, HoldId, IdentityKey};
use crate::limits::*;
use crate::reply::{Applied, Outcome};
use crate::state::{HoldExtras, State};
use smallvec::SmallVec;

impl State {
    /// Creates a campaign or replaces its SKUs, cap and window. What people have counted so far
    /// stays counted: lowering a cap revokes nothing, and a hold taken while its SKU was in the
    /// campaign counts until it is released, whatever the campaign's SKUs are now. A window may
    /// be added or changed, not removed.
    pub(crate) fn upsert_campaign(&mut self, upsert: &UpsertCampaign) -> Outcome {
        let mut skus: SmallVec<[SkuIndex; 4]> = SmallVec::new();
        for sku in &upsert.skus {
            skus.push(self.sku_at(sku)?);
        }
        skus.sort_unstable();
        let existing = self.campaign_index.get(&upsert.id).copied();
        if let Some(at) = existing
            && self.campaigns[at as usize].window_ms.is_some()
            && upsert.window_ms.is_none()
        {
            return Err(Rejection::invalid(format!(
                "campaign {} counts over a rolling window, which may change but not be removed: what has aged out of it \
                 is forgotten, so counting for ever from now would count some purchases and not others; create a new \
                 campaign instead",
                upsert.id
            )));
        }
        if existing.is_none() && self.campaigns.len() >= CAMPAIGNS_MAX {
            let max = CAMPAIGNS_MAX as u64;
            return Err(Rejection::CapacityReached { capacity: Capacity::Campaigns, of: String::new(), max });
        }
        for &sku in &skus {
            let others =
                self.sku_campaigns.get(&sku).map_or(0, |of| of.iter().filter(|&&c| Some(c) != existing).count());
            if others >= CAMPAIGNS_PER_SKU_MAX {
                let sku = self.skus[sku as usize].id.clone();
                return Err(Rejection::invalid(format!(
                    "sku {sku} is already in {CAMPAIGNS_PER_SKU_MAX} campaigns, the most one SKU may be in"
                )));
            }
        }
        let at = match existing {
            Some(at) => at,
            None => {
                let at = self.campaigns.len() as CampaignIndex;
                self.campaign_index.insert(upsert.id.clone(), at);
                self.campaigns.push(Campaign::new(upsert.id.clone()));
                at
            }
        };
        let campaign = &mut self.campaigns[at as usize];
        let window_changed = campaign.window_ms != upsert.window_ms;
        campaign.skus = skus;
        campaign.units_per_person_max = upsert.units_per_person_max;
        campaign.window_ms = upsert.window_ms;
        if window_changed {
            campaign.rebuild_ageing();
        }
        self.rebuild_sku_campaigns();
        Ok(Applied::Updated)
    }

    /// Which campaigns each SKU is in (derived from the campaigns).
    pub(crate) fn rebuild_sku_campaigns(&mut self) {
        self.sku_campaigns.clear();
        for (at, campaign) in self.campaigns.iter().enumerate() {
            for &sku in &campaign.skus {
                self.sku_campaigns.entry(sku).or_default().push(at as CampaignIndex);
            }
        }
    }

    /// The units a hold with these lines takes under each campaign its SKUs are in.
    fn campaign_units(&self, lines: impl Iterator<Item = (SkuIndex, u32)>) -> SmallVec<[(CampaignIndex, u32); 2]> {
        let mut units: SmallVec<[(CampaignIndex, u32); 2]> = SmallVec::new();
        if self.campaigns.is_empty() {
            return units;
        }
        for (sku, quantity) in lines {
            for &campaign in self.sku_campaigns.get(&sku).map_or(&[][..], |of| &of[..]) {
                match units.iter_mut().find(|(at, _)| *at == campaign) {
                    Some((_, total)) => *total += quantity,
                    None => units.push((campaign, quantity)),
                }
            }
        }
        units
    }

    /// The campaigns' caps for the buyer and each key, for a hold with these lines; and room to
    /// track whoever is new to a campaign.
    pub(crate) fn check_campaigns(
        &self,
        lines: &[(SkuIndex, u32)],
        buyer: &BuyerId,
        keys: &[IdentityKey],
    ) -> Result<(), Rejection> {
        let units = self.campaign_units(lines.iter().copied());
        if units.is_empty() {
            return Ok(());
        }
        let people = people(buyer, keys);
        for (at, units) in units {
            let campaign = &self.campaigns[at as usize];
            let mut new_people = 0;
            for person in &people {
                let requested = campaign.counted_units(person, self.clock_ms) + u64::from(units);
                if requested > u64::from(campaign.units_per_person_max) {
                    return Err(Rejection::CampaignLimitExceeded {
                        campaign: campaign.id.clone(),
                        person: person.clone(),
                        allowed: campaign.units_per_person_max,
                        requested,
                        window_ms: campaign.window_ms,
                    });
                }
                new_people += usize::from(!campaign.tracks(person));
            }
            if campaign.people.len() + new_people > CAMPAIGN_PEOPLE_MAX {
                return Err(Rejection::CapacityReached {
                    capacity: Capacity::CampaignPeople,
                    of: campaign.id.to_string(),
                    max: CAMPAIGN_PEOPLE_MAX as u64,
                });
            }
        }
        Ok(())
    }

    /// Counts a hold that starts counting (taken, or re-held) in its SKUs' campaigns, for its
    /// buyer and each of its keys, and notes the campaigns on the hold. Call after
    /// [`State::check_campaigns`] passed for the same lines (the hold need not be filed yet).
    pub(crate) fn count_in_campaigns(&mut self, hold: &HoldId, serial: u64, buyer: &BuyerId, lines: &[HoldLine]) {
        if self.campaigns.is_empty() {
            return;
        }
        let units = self.campaign_units(lines.iter().map(|line| (line.sku, line.quantity)));
        if units.is_empty() {
            return;
        }
        let at_ms = self.clock_ms;
        let keys = self.hold_extras.get(hold).map(|extras| extras.keys.clone()).unwrap_or_default();
        let people = people(buyer, &keys);
        for &(at, units) in &units {
            let campaign = &mut self.campaigns[at as usize];
            for person in &people {
                campaign.count(person.clone(), Counted { serial, at_ms, units });
            }
        }
        let extras = self.hold_extras.entry(hold.clone()).or_default();
        debug_assert!(extras.campaigns.is_empty(), "hold {hold} counted in campaigns twice");
        extras.campaigns = units.iter().map(|(at, _)| *at).collect();
    }

    /// Takes back what a hold counted in campaigns, when it stops counting without being bought
    /// (released, expired, cancelled).
    pub(crate) fn uncount_in_campaigns(&mut self, hold: &HoldId) {
        let Some(extras) = self.hold_extras.get_mut(hold) else { return };
        if extras.campaigns.is_empty() {
            return;
        }
        let campaigns = std::mem::take(&mut extras.campaigns);
        let keys = extras.keys.clone();
        let held = &self.holds[hold];
        let (serial, people) = (held.serial, people(&held.buyer, &keys));
        for at in campaigns {
            let campaign = &mut self.campaigns[at as usize];
            for person in &people {
                campaign.uncount(person, serial);
            }
        }
        self.drop_empty_extras(hold);
    }

    /// Forgets an unkeyed hold's extras once it counts in no campaign.
    fn drop_empty_extras(&mut self, hold: &HoldId) {
        if self.hold_extras.get(hold).is_some_and(HoldExtras::is_empty) {
            self.hold_extras.remove(hold);
        }
    }

    /// The earliest log time at which some campaign count leaves its window.
    pub(crate) fn next_campaign_due_ms(&self) -> Option<u64> {
        self.campaigns.iter().filter_map(Campaign::next_due_ms).min()
    }

    /// Forgets campaign counts whose window has passed, at most `budget` in all. Returns the
    /// number and whether more are due.
    pub(crate) fn age_out_campaigns(&mut self, budget: usize) -> (usize, bool) {
        let (mut done, mut more) = (0, false);
        for campaign in &mut self.campaigns {
            let (aged, left) = campaign.age_out(self.clock_ms, budget - done);
            done += aged;
            more |= left;
        }
        (done, more)
    }
}
