//! Error details on gRPC statuses: every non-OK status carries one [`ErrorDetail`] in its
//! details, so clients act on a machine-readable [`Reason`] instead of parsing messages.

use crate::v1::{ErrorDetail, Reason};
use prost::Message;
use tonic::{Code, Status};

/// A status with `detail` encoded in its details; the message is the detail's message.
pub fn status_with_detail(code: Code, detail: ErrorDetail) -> Status {
    Status::with_details(code, detail.message.clone(), detail.encode_to_vec().into())
}

/// The status's [`ErrorDetail`], when it carries one.
pub fn error_detail(status: &Status) -> Option<ErrorDetail> {
    if status.details().is_empty() {
        return None;
    }
    ErrorDetail::decode(status.details()).ok()
}

/// The status code stockd sends with each reason: one code per reason, so a reason alone (a
/// batch reply's per-reserve refusal) is enough to rebuild the status a unary call would get.
pub fn code_for(reason: Reason) -> Code {
    match reason {
        Reason::Unspecified => Code::Unknown,
        Reason::InvalidArgument => Code::InvalidArgument,
        Reason::NotFound => Code::NotFound,
        Reason::AlreadyExists => Code::AlreadyExists,
        Reason::OutOfStock | Reason::HoldExpired | Reason::InvalidTransition | Reason::NotYetArrived => {
            Code::FailedPrecondition
        }
        Reason::LimitExceeded => Code::ResourceExhausted,
        Reason::RiskRejected => Code::PermissionDenied,
        Reason::NotLeader | Reason::Unavailable => Code::Unavailable,
    }
}

/// The status's machine-readable reason (`Unspecified` when it carries none).
pub fn reason(status: &Status) -> Reason {
    error_detail(status).and_then(|d| Reason::try_from(d.reason).ok()).unwrap_or(Reason::Unspecified)
}

/// "Not the leader": retry at `leader_address` (empty when no leader is known).
pub fn not_leader(leader_id: u64, leader_address: &str) -> Status {
    let message = if leader_address.is_empty() {
        "this node is not the leader and no leader is known".to_string()
    } else {
        format!("this node is not the leader; the leader is node {leader_id} at {leader_address}")
    };
    status_with_detail(
        Code::Unavailable,
        ErrorDetail {
            reason: Reason::NotLeader as i32,
            message,
            leader_id,
            leader_address: leader_address.to_string(),
            ..ErrorDetail::default()
        },
    )
}

/// The cluster cannot answer now (no leader, leader changing): retry with the same request id.
pub fn unavailable(message: impl Into<String>) -> Status {
    status_with_detail(
        Code::Unavailable,
        ErrorDetail { reason: Reason::Unavailable as i32, message: message.into(), ..ErrorDetail::default() },
    )
}

/// Bad input, refused before it reaches the ledger.
pub fn invalid_argument(message: impl Into<String>) -> Status {
    status_with_detail(
        Code::InvalidArgument,
        ErrorDetail { reason: Reason::InvalidArgument as i32, message: message.into(), ..ErrorDetail::default() },
    )
}

/// A node's own limit is reached (`limits.*` in its config): `limit` names it, `allowed` is its value.
pub fn resource_exhausted(limit: &str, allowed: u64, message: impl Into<String>) -> Status {
    status_with_detail(
        Code::ResourceExhausted,
        ErrorDetail {
            reason: Reason::LimitExceeded as i32,
            message: message.into(),
            limit: limit.into(),
            allowed: allowed as i64,
            ..ErrorDetail::default()
        },
    )
}
