//! The API as clients and tools see it: the services reflection will list, the error details
//! they decode. (That every ledger rejection has its own API reason is `stockraft-api`'s test.)

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
        "Rehold",
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

/// The fields of a message as (number, name, type), from the descriptor set.
fn fields(message: &str) -> Vec<(i32, String, Option<i32>, String)> {
    let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("the descriptor set decodes");
    let found = set.file.iter().flat_map(|file| &file.message_type).find(|m| m.name() == message);
    let found = found.unwrap_or_else(|| panic!("no message {message}"));
    found.field.iter().map(|f| (f.number(), f.name().to_string(), f.r#type, f.type_name().to_string())).collect()
}

#[test]
fn requests_split_for_one_message_per_call_keep_the_shared_wire_shape() {
    // Until buf lint, several calls shared one request message (ListRequest, HoldRequest,
    // StockFigureRequest, BuyerListRequest; Deduct took ReserveRequest). Each call has its own
    // now, with the same field numbers, names and types, so what an older client encodes still
    // decodes as the new message.
    // A deduct and a raffle entry carry a reserve's fields, all but the reserve's own last one
    // (join_waitlist: only a reserve may wait), under the same numbers.
    let mut reserve = fields("ReserveRequest");
    assert_eq!(reserve.pop().map(|f| (f.0, f.1)), Some((8, "join_waitlist".to_string())));
    for other in ["DeductRequest", "EnterRaffleRequest"] {
        assert_eq!(fields(other), reserve, "{other} differs from ReserveRequest");
    }
    for family in [
        &["ConfirmRequest", "ReholdRequest", "ReleaseRequest", "CancelRequest", "ShipRequest"][..],
        &["ReceiveStockRequest", "CountStockRequest", "SetSafetyStockRequest"],
        &["BlockBuyerRequest", "UnblockBuyerRequest"],
        &[
            "ListWarehousesRequest",
            "ListItemsRequest",
            "ListSkusRequest",
            "ListShortfallsRequest",
            "ListInboundRequest",
        ],
    ] {
        let first = fields(family[0]);
        assert!(!first.is_empty());
        for other in &family[1..] {
            assert_eq!(fields(other), first, "{other} differs from {}", family[0]);
        }
    }
}
