//! The `Expire` command: the only place time moves stock. The leader proposes it on a timer;
//! every replica applies it at the same log position with the same stamped time, so all of them
//! expire the same holds, prune the same closed holds and forget the same request ids.

use crate::expiry_index::Scheduled;
use crate::hold::HoldState;
use crate::hold_table::HoldTable;
use crate::limits::{CLOSED_HOLD_RETENTION_MS, EXPIRE_BATCH_MAX, IDEMPOTENCY_WINDOW_MS};
use crate::reply::ExpireReport;
use crate::state::State;

impl State {
    /// The earliest log time at which an `Expire` could change anything: the first scheduled
    /// expiry, the first closed hold past its retention, the oldest request id past the
    /// idempotency window. `None`: nothing will come due until another command is applied.
    ///
    /// A sale window opening for buyers who wait counts too: nothing else would serve them then.
    ///
    /// An `Expire` stamped before this time changes nothing but the clock (checked by the
    /// property tests), so the leader proposes none and an idle cluster writes nothing. The
    /// figure may be early (a hold confirmed since it was scheduled), never late.
    pub fn next_expire_due_ms(&self) -> Option<u64> {
        let hold = self.expiry.earliest();
        let closed = self.closed.front().map(|(closed_at, _)| closed_at.saturating_add(CLOSED_HOLD_RETENTION_MS));
        let request = self.requests.oldest_at_ms().map(|at| at.saturating_add(IDEMPOTENCY_WINDOW_MS));
        let campaign = self.next_campaign_due_ms();
        let opening = self.next_waitlist_opening_ms();
        [hold, closed, request, campaign, opening].into_iter().flatten().min()
    }

    pub(crate) fn expire(&mut self) -> ExpireReport {
        let now = self.clock_ms;
        let mut report = ExpireReport::default();

        loop {
            let holds = &self.holds;
            let live = |entry: &Scheduled| is_scheduled_hold(holds, entry);
            if report.holds_expired as usize == EXPIRE_BATCH_MAX {
                report.more_due = self.expiry.has_due(now, live);
                break;
            }
            let Some(due) = self.expiry.pop_due(now, live) else { break };
            let id = self.holds.at(due.slot).id.clone();
            self.expire_hold(&id);
            report.holds_expired += 1;
        }

        while let Some((closed_at, _)) = self.closed.front() {
            if closed_at.saturating_add(CLOSED_HOLD_RETENTION_MS) > now {
                break;
            }
            if report.closed_holds_pruned as usize == EXPIRE_BATCH_MAX {
                report.more_due = true;
                break;
            }
            let (closed_at, id) = self.closed.pop_front().expect("front exists");
            // A hold re-held after it expired closed again later: this entry is stale.
            let Some(hold) = self.holds.get(&id).filter(|hold| hold.closed_at_ms == Some(closed_at)) else {
                continue;
            };
            if hold.state == HoldState::Shipped {
                // Shipped units count against the buyer's cap for as long as the hold is kept.
                let (buyer, lines) = (hold.buyer.clone(), hold.lines.clone());
                self.track(&id, &buyer, &lines, -1, 0);
            }
            // What it counted in campaigns stays counted (bought units count for the campaign's
            // life or window, not for the hold's retention).
            self.hold_extras.remove(&id);
            self.holds.remove(&id);
            report.closed_holds_pruned += 1;
        }

        let (forgotten, more) = self.requests.forget_expired(now, EXPIRE_BATCH_MAX);
        report.request_ids_forgotten = forgotten;
        report.more_due |= more;

        let (aged, more) = self.age_out_campaigns(EXPIRE_BATCH_MAX);
        report.campaign_counts_aged = aged as u32;
        report.more_due |= more;
        report
    }
}

/// Whether an expiry entry still describes a HELD hold (rather than one that was confirmed,
/// released or pruned since, whose slot may hold another hold by now).
pub(crate) fn is_scheduled_hold(holds: &HoldTable, entry: &Scheduled) -> bool {
    holds.get_at(entry.slot).is_some_and(|hold| {
        hold.serial == entry.serial && hold.state == HoldState::Held && hold.expires_at_ms == Some(entry.expires_at_ms)
    })
}
