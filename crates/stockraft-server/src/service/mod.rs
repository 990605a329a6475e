//! The gRPC services. Every call follows one of three paths:
//!
//! - a write: checked here (bad input is refused on the node that received it), then routed to
//!   the leader ([`Node::route`]), proposed there and answered once applied;
//! - a linearizable read: routed to the leader, which confirms its leadership (read index) and
//!   answers from its applied state;
//! - a local read (`allow_stale`, `WatchAvailability`, `Cluster.Status`): answered from this
//!   node's applied state.

pub mod catalog;
pub mod cluster;
pub mod inventory;

use crate::auth::AUTHORIZATION;
use crate::limits::FORWARD_TIMEOUT;
use crate::node::FORWARDED;
use stockraft_api::to_proto;
use stockraft_core::{Applied, Outcome, Rejection};
use tonic::metadata::MetadataValue;
use tonic::{Response, Status};

/// The call to send to the leader: the same message, marked as forwarded, with the caller's
/// token (the leader checks it again, so a follower never lends its own authority).
pub fn forward<T>(request: tonic::Request<T>) -> tonic::Request<T> {
    let token = request.metadata().get(AUTHORIZATION).cloned();
    let mut forwarded = tonic::Request::new(request.into_inner());
    forwarded.metadata_mut().insert(FORWARDED, MetadataValue::from_static("1"));
    if let Some(token) = token {
        forwarded.metadata_mut().insert(AUTHORIZATION, token);
    }
    forwarded.set_timeout(FORWARD_TIMEOUT);
    forwarded
}

/// Forwards the call to the leader and returns its answer, unless this node leads.
macro_rules! route {
    ($node:expr, $request:ident, $client:ident, $method:ident) => {
        if let $crate::node::Route::Leader(leader, channel) = $node.route(&$request).await? {
            // The leader enforces its own message limit on what it sends; the hop between two
            // nodes must not refuse what the leader may send (tonic's default is 4 MiB).
            let answer = $client::new(channel)
                .max_decoding_message_size($crate::limits::MESSAGE_BYTES_SETTING_MAX)
                .max_encoding_message_size($crate::limits::MESSAGE_BYTES_SETTING_MAX)
                .$method($crate::service::forward($request))
                .await;
            return $node.forwarded(leader, answer).await;
        }
    };
}
pub(crate) use route;

/// A ledger refusal as a status.
pub fn refused(rejection: Rejection) -> Status {
    to_proto::rejection(&rejection)
}

/// The applied result of the entry at `log_index`, or the rejection (with that index) as a status.
pub fn applied(outcome: Outcome, log_index: u64) -> Result<Applied, Status> {
    outcome.map_err(|rejection| to_proto::rejection_at(&rejection, log_index))
}

pub fn unexpected(what: &str, applied: &Applied) -> Status {
    Status::internal(format!("the ledger answered {what} with {applied:?}"))
}

pub fn ok<T>(message: T) -> Result<Response<T>, Status> {
    Ok(Response::new(message))
}
