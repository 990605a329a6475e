//! Campaigns: SKUs sold under shared per-person caps ("at most 2 bottles of any Moutai per
//! person, per 30 days"), and what each person has counted against them.
//!
//! A person is a buyer id or an identity key ([`Person`]): a reserve counts for its buyer and for
//! every key it carries, so twenty accounts on one phone share the phone's cap. What counts is
//! recorded per hold when the hold starts counting (a reserve, a deduct, a re-hold) and taken
//! back when it stops without being bought (a release, an expiry, a cancel). Bought units stay
//! counted for the campaign's life, or until its rolling window passes. This is primary state,
//! not derived from the holds: a shipped hold is pruned after a week, and a 30-day cap must still
//! remember it.

use crate::catalog::SkuIndex;
use crate::ids::{BuyerId, CampaignId, IdentityKey};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Dense index of a campaign (creation order).
pub type CampaignIndex = u32;

/// Whom a cap is counted for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Person {
    Buyer(BuyerId),
    Key(IdentityKey),
}

impl fmt::Display for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Person::Buyer(buyer) => write!(f, "buyer {buyer}"),
            Person::Key(key) => write!(f, "identity key {key}"),
        }
    }
}

/// The buyer and each identity key of a request: everyone a cap is counted for.
pub(crate) fn people(buyer: &BuyerId, keys: &[IdentityKey]) -> SmallVec<[Person; 5]> {
    let mut people = SmallVec::new();
    people.push(Person::Buyer(buyer.clone()));
    people.extend(keys.iter().cloned().map(Person::Key));
    people
}

/// Units one hold counts against a campaign for one person, since `at_ms` (log time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// The hold's serial: unique for ever, where a hold id may be reused after pruning.
    pub serial: u64,
    pub at_ms: u64,
    pub units: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    /// Distinct, in index order.
    pub skus: SmallVec<[SkuIndex; 4]>,
    pub units_per_person_max: u32,
    /// Count only what was taken in the last `window_ms`; none: for the campaign's life.
    pub window_ms: Option<u64>,
    /// Per person, the holds counted, oldest first.
    pub(crate) people: BTreeMap<Person, SmallVec<[Counted; 1]>>,
    /// Windowed campaigns: every count in the order it was taken (log time never goes back),
    /// for ageing out. Derived (rebuilt on restore and when the window changes); an entry
    /// whose count was taken back since is skipped.
    #[serde(skip)]
    pub(crate) ageing: VecDeque<(u64, Person, u64)>,
}

impl Campaign {
    pub(crate) fn new(id: CampaignId) -> Self {
        Campaign {
            id,
            skus: SmallVec::new(),
            units_per_person_max: 0,
            window_ms: None,
            people: BTreeMap::new(),
            ageing: VecDeque::new(),
        }
    }

    /// Whether a count taken at `at_ms` still counts at `now_ms`.
    fn live(&self, at_ms: u64, now_ms: u64) -> bool {
        self.window_ms.is_none_or(|window| at_ms.saturating_add(window) > now_ms)
    }

    /// Units counted for `person` at `now_ms`.
    pub fn counted_units(&self, person: &Person, now_ms: u64) -> u64 {
        let counts = self.people.get(person).map_or(&[][..], |counts| &counts[..]);
        counts.iter().filter(|count| self.live(count.at_ms, now_ms)).map(|count| u64::from(count.units)).sum()
    }

    pub fn tracks(&self, person: &Person) -> bool {
        self.people.contains_key(person)
    }

    pub(crate) fn count(&mut self, person: Person, count: Counted) {
        if self.window_ms.is_some() {
            self.ageing.push_back((count.at_ms, person.clone(), count.serial));
        }
        let counts = self.people.entry(person).or_default();
        debug_assert!(counts.iter().all(|other| other.serial != count.serial), "a hold counted twice");
        counts.push(count);
    }

    /// Takes back what hold `serial` counted for `person`, if it still counts (it may have aged
    /// out of the window already).
    pub(crate) fn uncount(&mut self, person: &Person, serial: u64) {
        if let Some(counts) = self.people.get_mut(person) {
            counts.retain(|count| count.serial != serial);
            if counts.is_empty() {
                self.people.remove(person);
            }
        }
    }

    /// When the oldest count leaves the window (it may have been taken back already, which
    /// makes this early, never late).
    pub(crate) fn next_due_ms(&self) -> Option<u64> {
        let window = self.window_ms?;
        self.ageing.front().map(|(at_ms, _, _)| at_ms.saturating_add(window))
    }

    /// Forgets counts whose window has passed at `now_ms`, at most `budget` queue entries.
    /// Returns the entries worked off and whether more are due.
    pub(crate) fn age_out(&mut self, now_ms: u64, budget: usize) -> (usize, bool) {
        let Some(window) = self.window_ms else { return (0, false) };
        let mut done = 0;
        while let Some((at_ms, _, _)) = self.ageing.front() {
            if at_ms.saturating_add(window) > now_ms {
                return (done, false);
            }
            if done == budget {
                return (done, true);
            }
            let (at_ms, person, serial) = self.ageing.pop_front().expect("front exists");
            if let Some(counts) = self.people.get_mut(&person) {
                counts.retain(|count| !(count.serial == serial && count.at_ms == at_ms));
                if counts.is_empty() {
                    self.people.remove(&person);
                }
            }
            done += 1;
        }
        (done, false)
    }

    /// Rebuilds the ageing queue from the counts (after a restore or a change of window).
    pub(crate) fn rebuild_ageing(&mut self) {
        let mut ageing: Vec<(u64, Person, u64)> = Vec::new();
        if self.window_ms.is_some() {
            for (person, counts) in &self.people {
                ageing.extend(counts.iter().map(|count| (count.at_ms, person.clone(), count.serial)));
            }
        }
        ageing.sort_unstable();
        self.ageing = ageing.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buyer(name: &str) -> Person {
        Person::Buyer(BuyerId::new(name).unwrap())
    }

    #[test]
    fn a_window_counts_only_recent_units_and_ages_them_out() {
        let mut campaign = Campaign { window_ms: Some(1_000), ..Campaign::new(CampaignId::new("c").unwrap()) };
        campaign.count(buyer("a"), Counted { serial: 1, at_ms: 0, units: 2 });
        campaign.count(buyer("a"), Counted { serial: 2, at_ms: 500, units: 1 });
        assert_eq!(campaign.counted_units(&buyer("a"), 999), 3);
        assert_eq!(campaign.counted_units(&buyer("a"), 1_000), 1, "the first count left the window");
        assert_eq!(campaign.next_due_ms(), Some(1_000));
        assert_eq!(campaign.age_out(1_000, 10), (1, false));
        assert_eq!(campaign.next_due_ms(), Some(1_500));
        campaign.uncount(&buyer("a"), 2);
        assert!(!campaign.tracks(&buyer("a")), "a person with nothing counted is forgotten");
        assert_eq!(campaign.age_out(2_000, 10), (1, false), "the stale queue entry is skipped");
    }

    #[test]
    fn without_a_window_counts_last_for_ever() {
        let mut campaign = Campaign::new(CampaignId::new("c").unwrap());
        campaign.count(buyer("a"), Counted { serial: 1, at_ms: 0, units: 2 });
        assert_eq!(campaign.counted_units(&buyer("a"), u64::MAX), 2);
        assert_eq!(campaign.next_due_ms(), None);
        assert_eq!(campaign.age_out(u64::MAX, 10), (0, false));
    }
}
