//! A SKU's waitlist: buyers refused for stock, in the order they were refused, waiting for units
//! to come back. One place per buyer and per identity key; the place keeps the order id the
//! buyer's hold will have when it is granted.

use crate::campaign::{Person, people};
use crate::command::KeyedReserve;
use crate::ids::{BuyerId, HoldId, IdentityKey};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// One buyer waiting: what they asked for, and the order id their hold will have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub hold: HoldId,
    pub buyer: BuyerId,
    pub keys: SmallVec<[IdentityKey; 1]>,
    pub region: Option<CompactString>,
    pub quantity: u32,
    pub joined_at_ms: u64,
}

impl Waiting {
    /// The place (or raffle entry) a one-line request takes at log time `now_ms`.
    pub(crate) fn of(request: &KeyedReserve, now_ms: u64) -> Self {
        let reserve = &request.reserve;
        Waiting {
            hold: reserve.hold.clone(),
            buyer: reserve.buyer.clone(),
            keys: request.keys.iter().cloned().collect(),
            region: reserve.region.clone(),
            quantity: reserve.lines[0].quantity,
            joined_at_ms: now_ms,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waitlist {
    /// Most places; 0 closes the list to new buyers (those waiting keep their places).
    pub length_max: u32,
    /// Places by ticket: the order buyers joined in.
    pub(crate) queue: BTreeMap<u64, Waiting>,
    pub(crate) next_ticket: u64,
    /// The log time the list was last served with its SKU on sale: a sale window that opens
    /// after it is due to serve the list (by `Expire`: nothing else may happen at the opening).
    pub(crate) served_at_ms: u64,
    /// The last serve stopped at [`crate::limits::WAITLIST_GRANTS_PER_COMMAND_MAX`] grants with
    /// units still free: the next `Expire` is due at once.
    pub(crate) more_to_grant: bool,
    /// Whose place is whose (derived: rebuilt on restore).
    #[serde(skip)]
    pub(crate) people: BTreeMap<Person, u64>,
}

impl Waitlist {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The first of these people who already has a place.
    pub(crate) fn waiting_person(&self, buyer: &BuyerId, keys: &[IdentityKey]) -> Option<Person> {
        people(buyer, keys).into_iter().find(|person| self.people.contains_key(person))
    }

    /// Adds a place at the end; returns its ticket and position (1: next in line).
    pub(crate) fn join(&mut self, waiting: Waiting) -> (u64, u32) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        for person in people(&waiting.buyer, &waiting.keys) {
            self.people.insert(person, ticket);
        }
        self.queue.insert(ticket, waiting);
        (ticket, self.queue.len() as u32)
    }

    pub(crate) fn remove(&mut self, ticket: u64) -> Waiting {
        let waiting = self.queue.remove(&ticket).expect("the place exists");
        for person in people(&waiting.buyer, &waiting.keys) {
            self.people.remove(&person);
        }
        waiting
    }

    /// A place's 1-based position (1: next in line).
    pub fn position(&self, ticket: u64) -> u32 {
        self.queue.range(..ticket).count() as u32 + 1
    }

    pub(crate) fn rebuild_people(&mut self) {
        self.people.clear();
        for (&ticket, waiting) in &self.queue {
            for person in people(&waiting.buyer, &waiting.keys) {
                self.people.insert(person, ticket);
            }
        }
    }
}
