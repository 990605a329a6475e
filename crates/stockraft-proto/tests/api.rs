//! The API as clients and tools see it: the services reflection will list, the error details
//! they decode, and a reason for every rejection the ledger can give.

use prost::Message;
use prost_types::FileDescriptorSet;
use std::collections::BTreeMap;
use stockraft_proto::FILE_DESCRIPTOR_SET;
use stockraft_proto::v1::{ErrorDetail, Line, Reason, ReserveRequest};

fn services() -> BTreeMap<String, Vec<String>> {
    let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("the descriptor set decodes");
    let mut services = BTreeMap::new();
    for file in &set.file {
        assert_eq!(file.package(), "stockraft.v1", "{}", file.name());
        for service in &file.service {
            let methods = service.method.iter().map(|m| m.name().to_string()).collect();
            services.insert(format!("stockraft.v1.{}", service.name()), methods);
        }
    }
    services
}

#[test]
fn reflection_lists_the_three_services_and_their_calls() {
    let services = services();
    assert_eq!(
        services.keys().collect::<Vec<_>>(),
        ["stockraft.v1.Catalog", "stockraft.v1.Cluster", "stockraft.v1.Inventory"]
    );
    let inventory = &services["stockraft.v1.Inventory"];
    for call in [
        "Reserve",
        "ReserveBatch",
        "Deduct",
        "Confirm",
        "Release",
        "Cancel",
        "GetHold",
        "GetAvailability",
        "WatchAvailability",
    ] {
        assert!(inventory.contains(&call.to_string()), "Inventory lacks {call}");
    }
    let cluster = &services["stockraft.v1.Cluster"];
    for call in ["Status", "AddLearner", "ChangeMembership", "TransferLeader", "TriggerSnapshot"] {
        assert!(cluster.contains(&call.to_string()), "Cluster lacks {call}");
    }
    assert!(services["stockraft.v1.Catalog"].len() >= 20);
}

#[test]
fn every_rejection_of_the_ledger_has_a_reason_in_the_api() {
    use stockraft_core::*;
    let sku = SkuId::new("s").unwrap();
    let hold = HoldId::new("h").unwrap();
    let rejections = [
        Rejection::InvalidArgument(String::new()),
        Rejection::NotFound { kind: EntityKind::Sku, id: String::new() },
        Rejection::AlreadyExists { kind: EntityKind::Hold, id: String::new(), detail: String::new() },
        Rejection::OutOfStock { sku: sku.clone(), requested: 1, available: 0 },
        Rejection::HoldExpired { hold: hold.clone(), reason: ExpiredReason::GraceWindowPassed },
        Rejection::LimitExceeded { sku: sku.clone(), limit: LimitKind::UnitsPerBuyer, allowed: 1, requested: 2 },
        Rejection::RiskRejected { sku, reason: RiskReason::Blocklisted },
        Rejection::InvalidTransition { hold: hold.clone(), from: HoldState::Held, to: HoldState::Shipped },
        Rejection::NotYetArrived { hold },
    ];
    for rejection in rejections {
        let reason = Reason::from_str_name(rejection.reason());
        assert!(reason.is_some_and(|r| r != Reason::Unspecified), "no API reason for {}", rejection.reason());
    }
}

#[test]
fn error_details_and_requests_survive_the_wire() {
    let detail = ErrorDetail {
        reason: Reason::NotLeader as i32,
        message: "not the leader".into(),
        leader_id: 2,
        leader_address: "127.0.0.1:7002".into(),
        ..ErrorDetail::default()
    };
    let decoded = ErrorDetail::decode(detail.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, detail);
    assert_eq!(decoded.reason(), Reason::NotLeader);

    let reserve = ReserveRequest {
        request_id: "r-1".into(),
        hold_id: "order-1".into(),
        buyer_id: "alice".into(),
        lines: vec![Line { sku_id: "moutai-1".into(), quantity: -1 }],
        ..ReserveRequest::default()
    };
    let decoded = ReserveRequest::decode(reserve.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded.lines[0].quantity, -1, "a negative quantity reaches the server, which refuses it");
}
