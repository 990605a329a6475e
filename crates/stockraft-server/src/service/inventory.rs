//! `stockraft.v1.Inventory`: reserve, confirm, release, deduct, cancel, holds, availability.

use super::{applied, ok, refused, route, unexpected};
use crate::limits::{WATCH_BUFFER_UPDATES, WATCH_HOLDS_MAX, WATCH_SKUS_MAX};
use crate::node::Node;
use openraft::async_runtime::WatchReceiver;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use stockraft_api::to_core;
use stockraft_api::to_proto;
use stockraft_core::{Applied, HoldId, Outcome, Rejection, Request, SkuId, limits::RESERVE_BATCH_MAX};
use stockraft_proto::errors::{invalid_argument, resource_exhausted};
use stockraft_proto::v1::inventory_client::InventoryClient;
use stockraft_proto::v1::inventory_server::Inventory;
use stockraft_proto::v1::{self, reserve_outcome};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request as Call, Response, Status};

pub struct InventoryService {
    pub node: Arc<Node>,
    /// One permit per open watch, held by the watch's task; `watchers_max` in all.
    pub watchers: Arc<Semaphore>,
    pub watchers_max: usize,
}

impl InventoryService {
    /// One of the node's `limits.watchers_max` watches, for as long as the watch runs.
    fn watch_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
        self.watchers.clone().try_acquire_owned().map_err(|_| {
            let max = self.watchers_max;
            resource_exhausted(
                "limits.watchers_max",
                max as u64,
                format!(
                    "this node already serves its limit of {max} watches; retry later or watch through another node"
                ),
            )
        })
    }

    async fn hold_write(&self, request: Request) -> Result<Response<v1::HoldReply>, Status> {
        let (index, outcome) = self.node.propose_one(request).await?;
        self.hold_reply(outcome, index).map(Response::new)
    }

    /// The receipt carries the index the transition took effect at: for a retried request id,
    /// the first application's, not the retry's entry (`index`, which refusals carry).
    fn hold_reply(&self, outcome: Outcome, index: u64) -> Result<v1::HoldReply, Status> {
        match applied(outcome, index)? {
            Applied::Hold(receipt) => Ok(self.node.read(|state| to_proto::hold_reply(state, &receipt))),
            Applied::Waitlisted(receipt) => Ok(to_proto::waitlisted(&receipt)),
            Applied::RaffleEntered(receipt) => Ok(to_proto::raffle_entered(&receipt)),
            other => Err(unexpected("a hold request", &other)),
        }
    }
}

type AvailabilityStream = Pin<Box<dyn Stream<Item = Result<v1::Availability, Status>> + Send>>;
type HoldStream = Pin<Box<dyn Stream<Item = Result<v1::Hold, Status>> + Send>>;

/// An order as the API shows it: its hold, its waitlist place (WAITLISTED), or its entry in a
/// raffle not drawn yet (RAFFLE_ENTERED).
fn hold_or_place(state: &stockraft_core::State, id: &HoldId) -> Option<v1::Hold> {
    state
        .hold(id)
        .map(|view| to_proto::hold(&view))
        .or_else(|| state.waiting(id).map(|w| to_proto::waiting(&w)))
        .or_else(|| state.raffle_entry(id).map(|(sku, entry)| to_proto::raffle_entry(&sku, &entry)))
}

#[tonic::async_trait]
impl Inventory for InventoryService {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn reserve(&self, call: Call<v1::ReserveRequest>) -> Result<Response<v1::HoldReply>, Status> {
        let request = to_core::reserve(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, reserve);
        self.hold_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(reserves = call.get_ref().reserves.len()))]
    async fn reserve_batch(
        &self,
        call: Call<v1::ReserveBatchRequest>,
    ) -> Result<Response<v1::ReserveBatchReply>, Status> {
        let reserves = &call.get_ref().reserves;
        if reserves.is_empty() || reserves.len() > RESERVE_BATCH_MAX {
            return Err(invalid_argument(format!(
                "a batch holds 1 to {RESERVE_BATCH_MAX} reserves, not {}",
                reserves.len()
            )));
        }
        // Each reserve stands alone: one that fails its checks is answered here and the rest go on.
        // The valid ones move into the proposal; `refusals` keeps each slot's early answer.
        let mut valid = Vec::with_capacity(reserves.len());
        let refusals: Vec<Option<Rejection>> = reserves
            .iter()
            .map(|r| match to_core::reserve(r) {
                Ok(request) => {
                    valid.push(request);
                    None
                }
                Err(rejection) => Some(rejection),
            })
            .collect();
        route!(self.node, call, InventoryClient, reserve_batch);
        let (index, outcomes) = if valid.is_empty() { (0, Vec::new()) } else { self.node.propose(valid).await? };
        if outcomes.len() != refusals.iter().filter(|r| r.is_none()).count() {
            return Err(Status::internal("the ledger returned a different number of outcomes"));
        }
        // One read of the ledger for every hold's reply (its allocations' ids), not one per hold.
        let mut outcomes = outcomes.into_iter();
        let replies = self.node.read(|state| {
            refusals
                .into_iter()
                .map(|refusal| {
                    let outcome = match refusal {
                        // Refused before the log: nothing was proposed for it, log index 0.
                        Some(rejection) => {
                            reserve_outcome::Outcome::Rejected(to_proto::rejection_detail(&rejection, 0))
                        }
                        None => match outcomes.next().expect("counted above") {
                            Ok(Applied::Hold(receipt)) => {
                                reserve_outcome::Outcome::Held(to_proto::hold_reply(state, &receipt))
                            }
                            Ok(Applied::Waitlisted(receipt)) => {
                                reserve_outcome::Outcome::Held(to_proto::waitlisted(&receipt))
                            }
                            Ok(other) => reserve_outcome::Outcome::Rejected(v1::ErrorDetail {
                                message: unexpected("a reserve", &other).message().to_string(),
                                ..v1::ErrorDetail::default()
                            }),
                            Err(rejection) => {
                                reserve_outcome::Outcome::Rejected(to_proto::rejection_detail(&rejection, index))
                            }
                        },
                    };
                    v1::ReserveOutcome { outcome: Some(outcome) }
                })
                .collect()
        });
        ok(v1::ReserveBatchReply { outcomes: replies })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn deduct(&self, call: Call<v1::DeductRequest>) -> Result<Response<v1::HoldReply>, Status> {
        let request = to_core::deduct(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, deduct);
        self.hold_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn confirm(&self, call: Call<v1::ConfirmRequest>) -> Result<Response<v1::HoldReply>, Status> {
        let request = to_core::hold_action(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, confirm);
        self.hold_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn rehold(&self, call: Call<v1::ReholdRequest>) -> Result<Response<v1::HoldReply>, Status> {
        let request = to_core::hold_action(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, rehold);
        self.hold_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn release(&self, call: Call<v1::ReleaseRequest>) -> Result<Response<v1::HoldReply>, Status> {
        let request = to_core::hold_action(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, release);
        self.hold_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn cancel(&self, call: Call<v1::CancelRequest>) -> Result<Response<v1::HoldReply>, Status> {
        let request = to_core::hold_action(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, cancel);
        self.hold_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(hold_id = %call.get_ref().hold_id))]
    async fn get_hold(&self, call: Call<v1::GetHoldRequest>) -> Result<Response<v1::Hold>, Status> {
        let id = HoldId::new(&call.get_ref().hold_id).map_err(refused)?;
        if !call.get_ref().allow_stale {
            route!(self.node, call, InventoryClient, get_hold);
            self.node.linearize().await?;
        }
        let view = self.node.read(|state| hold_or_place(state, &id));
        let view =
            view.ok_or_else(|| refused(stockraft_core::Rejection::not_found(stockraft_core::EntityKind::Hold, &id)))?;
        ok(view)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn leave_waitlist(
        &self,
        call: Call<v1::LeaveWaitlistRequest>,
    ) -> Result<Response<v1::LeaveWaitlistReply>, Status> {
        let request = to_core::leave_waitlist(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, leave_waitlist);
        let (index, outcome) = self.node.propose_one(request).await?;
        match applied(outcome, index)? {
            Applied::Updated => ok(v1::LeaveWaitlistReply { log_index: index }),
            other => Err(unexpected("leaving a waitlist", &other)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn enter_raffle(&self, call: Call<v1::EnterRaffleRequest>) -> Result<Response<v1::HoldReply>, Status> {
        let request = to_core::enter_raffle(call.get_ref()).map_err(refused)?;
        route!(self.node, call, InventoryClient, enter_raffle);
        self.hold_write(request).await
    }

    type WatchHoldsStream = HoldStream;

    /// Served from this node's applied state, as watch_availability: each order's view now,
    /// then each change as it is applied.
    async fn watch_holds(&self, call: Call<v1::WatchHoldsRequest>) -> Result<Response<HoldStream>, Status> {
        let ids = &call.get_ref().hold_ids;
        if ids.is_empty() || ids.len() > WATCH_HOLDS_MAX {
            return Err(invalid_argument(format!("watch 1 to {WATCH_HOLDS_MAX} orders, not {}", ids.len())));
        }
        let holds = ids.iter().map(|id| HoldId::new(id)).collect::<Result<Vec<_>, _>>().map_err(refused)?;
        let permit = self.watch_permit()?;
        let (sender, receiver) = mpsc::channel(WATCH_BUFFER_UPDATES);
        let node = self.node.clone();
        tokio::spawn(async move {
            watch_holds(node, holds, sender).await;
            drop(permit);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(sku_id = %call.get_ref().sku_id))]
    async fn get_availability(
        &self,
        call: Call<v1::GetAvailabilityRequest>,
    ) -> Result<Response<v1::Availability>, Status> {
        let sku = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        if !call.get_ref().allow_stale {
            route!(self.node, call, InventoryClient, get_availability);
            self.node.linearize().await?;
        }
        let (index, availability) = self.node.read_as_of(|state| state.availability(&sku));
        ok(to_proto::availability(&availability.map_err(refused)?, index))
    }

    type WatchAvailabilityStream = AvailabilityStream;

    /// Served from this node's applied state (any node may serve watches, so storefronts spread
    /// over the cluster): the current figures first, then each change as it is applied.
    async fn watch_availability(
        &self,
        call: Call<v1::WatchAvailabilityRequest>,
    ) -> Result<Response<AvailabilityStream>, Status> {
        let ids = &call.get_ref().sku_ids;
        if ids.is_empty() || ids.len() > WATCH_SKUS_MAX {
            return Err(invalid_argument(format!("watch 1 to {WATCH_SKUS_MAX} SKUs, not {}", ids.len())));
        }
        let skus = ids.iter().map(|id| SkuId::new(id)).collect::<Result<Vec<_>, _>>().map_err(refused)?;
        for sku in &skus {
            self.node.read(|state| state.sku(sku).map(|_| ())).map_err(refused)?;
        }
        let permit = self.watch_permit()?;
        let (sender, receiver) = mpsc::channel(WATCH_BUFFER_UPDATES);
        let node = self.node.clone();
        tokio::spawn(async move {
            watch(node, skus, sender).await;
            drop(permit);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

async fn watch(node: Arc<Node>, skus: Vec<SkuId>, sender: mpsc::Sender<Result<v1::Availability, Status>>) {
    let mut metrics = node.watch_metrics();
    // The figures last sent per SKU (with the log index zeroed: only figures count as change).
    let mut last_sent: HashMap<String, v1::Availability> = HashMap::new();
    loop {
        let (index, changed): (_, Vec<v1::Availability>) = node.read_as_of(|state| {
            skus.iter()
                .filter_map(|sku| state.availability(sku).ok())
                .map(|a| to_proto::availability(&a, 0))
                .filter(|figures| last_sent.get(&figures.sku_id) != Some(figures))
                .collect()
        });
        for figures in &changed {
            last_sent.insert(figures.sku_id.clone(), figures.clone());
        }
        let changed = changed.into_iter().map(|figures| v1::Availability { as_of_log_index: index, ..figures });
        for update in changed {
            if sender.send(Ok(update)).await.is_err() {
                return;
            }
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return },
            () = sender.closed() => return,
        }
    }
}

/// Sends each order's view when it differs from the last one sent: its hold, its waitlist place,
/// or (neither) a bare Hold with its id and state UNSPECIFIED.
async fn watch_holds(node: Arc<Node>, holds: Vec<HoldId>, sender: mpsc::Sender<Result<v1::Hold, Status>>) {
    let mut metrics = node.watch_metrics();
    let mut last_sent: HashMap<String, v1::Hold> = HashMap::new();
    loop {
        let changed: Vec<v1::Hold> = node.read(|state| {
            holds
                .iter()
                .map(|id| {
                    hold_or_place(state, id)
                        .unwrap_or_else(|| v1::Hold { hold_id: id.to_string(), ..v1::Hold::default() })
                })
                .filter(|view| last_sent.get(&view.hold_id) != Some(view))
                .collect()
        });
        for view in changed {
            last_sent.insert(view.hold_id.clone(), view.clone());
            if sender.send(Ok(view)).await.is_err() {
                return;
            }
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return },
            () = sender.closed() => return,
        }
    }
}
