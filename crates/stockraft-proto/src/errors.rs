//! Error details on gRPC statuses, in gRPC's standard rich error model: every non-OK status
//! stockd sends carries a `google.rpc.Status` in its details (the `grpc-status-details-bin`
//! trailer), which every gRPC library reads, holding
//!
//! - a `google.rpc.ErrorInfo`: the [`Reason`] name as `reason` (`OUT_OF_STOCK`), [`DOMAIN`] as
//!   `domain`, and the [`ErrorDetail`]'s figures that are set as `metadata` (lowerCamelCase
//!   keys; enum values by name without their prefix: `reholdRefusal: GRACE_WINDOW_PASSED`);
//! - the full [`ErrorDetail`], packed as `Any` ([`ERROR_DETAIL_TYPE_URL`]);
//! - a `google.rpc.RetryInfo` when the same call may simply be sent again (UNAVAILABLE,
//!   NOT_LEADER).
//!
//! Clients act on the machine-readable reason instead of parsing messages. [`error_detail`] reads
//! this and also the bare `ErrorDetail` that servers before the rich model sent, so a new client
//! reads an old server during a rolling upgrade.

use crate::v1::{ErrorDetail, RaffleRefusal, Reason, ReholdRefusal, RiskRefusal};
use prost::Message;
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::pb;

/// `ErrorInfo.domain` of every stockraft error.
pub const DOMAIN: &str = "stockraft";

/// The `Any` type URL of [`ErrorDetail`] inside the rich status.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/stockraft.v1.ErrorDetail";

/// `RetryInfo.retry_delay` on UNAVAILABLE: about half of stockd's default election timeout
/// (300-600 ms), so a client asks again while an election is still likely to be finishing,
/// not long after a new leader could have answered.
pub const RETRY_AFTER_UNAVAILABLE: Duration = Duration::from_millis(250);

/// A status with `detail` in the rich model; the message is the detail's message.
pub fn status_with_detail(code: Code, detail: ErrorDetail) -> Status {
    let details = rich_status(code, &detail).encode_to_vec();
    Status::with_details(code, detail.message, details.into())
}

/// The `google.rpc.Status` stockd sends for `detail` under `code`.
pub fn rich_status(code: Code, detail: &ErrorDetail) -> pb::Status {
    let reason = Reason::try_from(detail.reason).unwrap_or(Reason::Unspecified);
    let mut details = vec![
        any("type.googleapis.com/google.rpc.ErrorInfo", error_info(reason, detail).encode_to_vec()),
        any(ERROR_DETAIL_TYPE_URL, detail.encode_to_vec()),
    ];
    let retry_after = match reason {
        // The leader is named: go there at once.
        Reason::NotLeader if !detail.leader_address.is_empty() => Some(Duration::ZERO),
        Reason::NotLeader | Reason::Unavailable => Some(RETRY_AFTER_UNAVAILABLE),
        _ => None,
    };
    if let Some(delay) = retry_after {
        let delay = prost_types::Duration { seconds: delay.as_secs() as i64, nanos: delay.subsec_nanos() as i32 };
        let retry = pb::RetryInfo { retry_delay: Some(delay) };
        details.push(any("type.googleapis.com/google.rpc.RetryInfo", retry.encode_to_vec()));
    }
    pb::Status { code: code as i32, message: detail.message.clone(), details }
}

fn any(type_url: &str, value: Vec<u8>) -> prost_types::Any {
    prost_types::Any { type_url: type_url.to_string(), value }
}

/// The reason as `ErrorInfo.reason`: the enum value's name without the `REASON_` prefix that
/// only the zero value carries today, so the string stays the same if the prefix is added.
pub fn reason_name(reason: Reason) -> &'static str {
    let name = reason.as_str_name();
    name.strip_prefix("REASON_").filter(|_| reason != Reason::Unspecified).unwrap_or(name)
}

/// `ErrorInfo` for a detail: its figures that are set, under lowerCamelCase keys (AIP-193).
fn error_info(reason: Reason, detail: &ErrorDetail) -> pb::ErrorInfo {
    let mut metadata = std::collections::HashMap::new();
    let mut put = |key: &str, value: String| {
        metadata.insert(key.to_string(), value);
    };
    if !detail.sku_id.is_empty() {
        put("skuId", detail.sku_id.clone());
    }
    if detail.requested != 0 || detail.available != 0 {
        put("requested", detail.requested.to_string());
        put("available", detail.available.to_string());
    }
    if !detail.limit.is_empty() {
        put("limit", detail.limit.clone());
        put("allowed", detail.allowed.to_string());
    }
    if detail.leader_id != 0 {
        put("leaderId", detail.leader_id.to_string());
    }
    if !detail.leader_address.is_empty() {
        put("leaderAddress", detail.leader_address.clone());
    }
    if detail.log_index != 0 {
        put("logIndex", detail.log_index.to_string());
    }
    if !detail.hold_id.is_empty() {
        put("holdId", detail.hold_id.clone());
    }
    if let Ok(refusal) = ReholdRefusal::try_from(detail.rehold_refusal)
        && refusal != ReholdRefusal::Unspecified
    {
        put("reholdRefusal", refusal.as_str_name().trim_start_matches("REHOLD_REFUSAL_").to_string());
    }
    if let Ok(refusal) = RiskRefusal::try_from(detail.risk_refusal)
        && refusal != RiskRefusal::Unspecified
    {
        put("riskRefusal", refusal.as_str_name().trim_start_matches("RISK_REFUSAL_").to_string());
    }
    if let Some(index) = detail.risk_rule_index {
        put("riskRuleIndex", index.to_string());
    }
    if let Some(at) = detail.sale_opens_at_ms {
        put("saleOpensAtMs", at.to_string());
    }
    if let Some(at) = detail.sale_closes_at_ms {
        put("saleClosesAtMs", at.to_string());
    }
    if !detail.identity_key.is_empty() {
        put("identityKey", detail.identity_key.clone());
    }
    if !detail.campaign_id.is_empty() {
        put("campaignId", detail.campaign_id.clone());
    }
    if let Ok(refusal) = RaffleRefusal::try_from(detail.raffle_refusal)
        && refusal != RaffleRefusal::Unspecified
    {
        put("raffleRefusal", refusal.as_str_name().trim_start_matches("RAFFLE_REFUSAL_").to_string());
    }
    if let Some(at) = detail.raffle_entries_close_at_ms {
        put("raffleEntriesCloseAtMs", at.to_string());
    }
    pb::ErrorInfo { reason: reason_name(reason).to_string(), domain: DOMAIN.to_string(), metadata }
}

/// The status's [`ErrorDetail`], when it carries one: from the rich model, or the bare
/// `ErrorDetail` of a server that predates it.
pub fn error_detail(status: &Status) -> Option<ErrorDetail> {
    let bytes = status.details();
    if bytes.is_empty() {
        return None;
    }
    if let Ok(rich) = pb::Status::decode(bytes)
        && let Some(packed) = rich.details.iter().find(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
    {
        return ErrorDetail::decode(packed.value.as_slice()).ok();
    }
    ErrorDetail::decode(bytes).ok()
}

/// The status code stockd sends with each reason: one code per reason, so a reason alone (a
/// batch reply's per-reserve refusal) is enough to rebuild the status a unary call would get.
pub fn code_for(reason: Reason) -> Code {
    match reason {
        Reason::Unspecified => Code::Unknown,
        Reason::InvalidArgument => Code::InvalidArgument,
        Reason::NotFound => Code::NotFound,
        Reason::AlreadyExists => Code::AlreadyExists,
        Reason::OutOfStock
        | Reason::HoldExpired
        | Reason::InvalidTransition
        | Reason::NotYetArrived
        | Reason::NotYetOnSale
        | Reason::SaleClosed
        | Reason::Raffle => Code::FailedPrecondition,
        Reason::LimitExceeded => Code::ResourceExhausted,
        Reason::RiskRejected | Reason::NotPermitted => Code::PermissionDenied,
        Reason::NotLeader | Reason::Unavailable => Code::Unavailable,
        Reason::Unimplemented => Code::Unimplemented,
        Reason::Unauthenticated => Code::Unauthenticated,
    }
}

/// The status's machine-readable reason (`Unspecified` when it carries none).
pub fn reason(status: &Status) -> Reason {
    error_detail(status).and_then(|d| Reason::try_from(d.reason).ok()).unwrap_or(Reason::Unspecified)
}

/// A status of `reason`'s code with a detail naming the reason and nothing else.
pub fn refusal(reason: Reason, message: impl Into<String>) -> Status {
    status_with_detail(
        code_for(reason),
        ErrorDetail { reason: reason as i32, message: message.into(), ..ErrorDetail::default() },
    )
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
    refusal(Reason::Unavailable, message)
}

/// Bad input, refused before it reaches the ledger.
pub fn invalid_argument(message: impl Into<String>) -> Status {
    refusal(Reason::InvalidArgument, message)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn out_of_stock() -> ErrorDetail {
        ErrorDetail {
            reason: Reason::OutOfStock as i32,
            message: "sku-1: 3 units wanted, 1 available".into(),
            sku_id: "sku-1".into(),
            requested: 3,
            available: 1,
            log_index: 42,
            ..ErrorDetail::default()
        }
    }

    #[test]
    fn a_refusal_travels_as_a_google_rpc_status_with_error_info_and_the_detail() {
        let status = status_with_detail(Code::FailedPrecondition, out_of_stock());
        let rich = pb::Status::decode(status.details()).expect("details are a google.rpc.Status");
        // What grpc-status (Python) checks before it hands the Status over.
        assert_eq!(rich.code, Code::FailedPrecondition as i32);
        assert_eq!(rich.message, status.message());
        let info = rich.details.iter().find(|a| a.type_url.ends_with("google.rpc.ErrorInfo")).expect("ErrorInfo");
        let info = pb::ErrorInfo::decode(info.value.as_slice()).unwrap();
        assert_eq!(info.reason, "OUT_OF_STOCK");
        assert_eq!(info.domain, "stockraft");
        assert_eq!(info.metadata["skuId"], "sku-1");
        assert_eq!(info.metadata["requested"], "3");
        assert_eq!(info.metadata["available"], "1");
        assert_eq!(info.metadata["logIndex"], "42");
        assert!(!info.metadata.contains_key("leaderId"), "unset figures are left out: {:?}", info.metadata);
        assert!(!rich.details.iter().any(|a| a.type_url.ends_with("RetryInfo")), "a refusal is not retried as it is");
        assert_eq!(error_detail(&status), Some(out_of_stock()));
        assert_eq!(reason(&status), Reason::OutOfStock);
    }

    #[test]
    fn tonic_types_reads_the_same_status() {
        use tonic_types::StatusExt;
        let status = not_leader(2, "10.0.0.2:7001");
        let details = status.get_error_details();
        let info = details.error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "NOT_LEADER");
        assert_eq!(info.metadata["leaderAddress"], "10.0.0.2:7001");
        assert_eq!(details.retry_info().expect("RetryInfo").retry_delay, Some(Duration::ZERO));
        let status = unavailable("no leader");
        assert_eq!(status.get_details_retry_info().unwrap().retry_delay, Some(RETRY_AFTER_UNAVAILABLE));
    }

    #[test]
    fn sub_reasons_are_metadata_by_name() {
        use tonic_types::StatusExt;
        let expired = ErrorDetail {
            reason: Reason::HoldExpired as i32,
            message: "hold order-7 has expired".into(),
            hold_id: "order-7".into(),
            rehold_refusal: ReholdRefusal::GraceWindowPassed as i32,
            ..ErrorDetail::default()
        };
        let info = status_with_detail(Code::FailedPrecondition, expired).get_details_error_info().unwrap();
        assert_eq!(
            (info.metadata["holdId"].as_str(), info.metadata["reholdRefusal"].as_str()),
            ("order-7", "GRACE_WINDOW_PASSED")
        );
        let by_rule = ErrorDetail {
            reason: Reason::RiskRejected as i32,
            risk_refusal: RiskRefusal::Rule as i32,
            risk_rule_index: Some(0),
            ..ErrorDetail::default()
        };
        let info = status_with_detail(Code::PermissionDenied, by_rule).get_details_error_info().unwrap();
        assert_eq!((info.metadata["riskRefusal"].as_str(), info.metadata["riskRuleIndex"].as_str()), ("RULE", "0"));
    }

    #[test]
    fn a_bare_error_detail_from_an_older_server_is_still_read() {
        let old = Status::with_details(Code::FailedPrecondition, "out", out_of_stock().encode_to_vec().into());
        assert_eq!(error_detail(&old), Some(out_of_stock()));
        assert_eq!(error_detail(&Status::internal("no details")), None);
    }

    #[test]
    fn every_reason_has_a_name_without_prefix_and_its_own_code() {
        for value in 0..=14 {
            let reason = Reason::try_from(value).expect("reasons are numbered without gaps");
            let name = reason_name(reason);
            assert!(name.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{name}");
            assert_eq!(name.starts_with("REASON_"), reason == Reason::Unspecified);
            let status = refusal(reason, "x");
            assert_eq!(status.code(), code_for(reason));
            assert_eq!(self::reason(&status), reason);
        }
    }
}
