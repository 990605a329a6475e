//! The replicated cluster, tested against real `stockd` processes: each test starts its own
//! nodes on loopback ports with their own data dirs, and waits for conditions instead
//! of sleeping. Read each test as a runbook: what an operator does, and what must hold.

use std::collections::BTreeSet;
use std::time::Duration;
use stockraft_client::{Error, call, v1};
use stockraft_testkit::*;

fn others(of: u64, ids: &[u64]) -> Vec<u64> {
    ids.iter().copied().filter(|id| *id != of).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_elects_a_leader_and_serves_through_any_node() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let followers = others(leader, &[1, 2, 3]);

    // The shop is set up through one follower, sold through the other: followers forward.
    let via_first = cluster.client_of(followers[0]);
    let via_second = cluster.client_of(followers[1]);
    set_up_shop(&via_first, 10, 60_000, Some(2)).await;

    let held = reserve(&via_second, "order-1", "alice", 2).await.expect("a reserve through a follower");
    assert_eq!(held.state, v1::HoldState::Held as i32);
    assert_eq!(held.allocations.len(), 1);
    assert_eq!((held.allocations[0].warehouse_id.as_str(), held.allocations[0].quantity), (WAREHOUSE, 2));

    // Per-buyer cap: alice has 2 of 2.
    let refused = reserve(&via_first, "order-2", "alice", 1).await.expect_err("alice is at her cap");
    assert_eq!(refused.reason(), v1::Reason::LimitExceeded);

    let confirmed = call!(
        via_first,
        inventory,
        confirm,
        v1::ConfirmRequest { request_id: stockraft_client::new_request_id(), hold_id: "order-1".into() }
    )
    .expect("confirm through a follower");
    assert_eq!(confirmed.state, v1::HoldState::Confirmed as i32);

    reserve(&via_second, "order-3", "bob", 1).await.expect("bob's hold");
    let released = call!(
        via_second,
        inventory,
        release,
        v1::ReleaseRequest { request_id: stockraft_client::new_request_id(), hold_id: "order-3".into() }
    )
    .expect("release through a follower");
    assert_eq!(released.state, v1::HoldState::Released as i32);

    // A linearizable read through a follower sees every acknowledged write: 10 - 2 confirmed.
    let availability = availability(&via_first).await.expect("availability");
    assert_eq!(availability.sellable_units, 8);
    assert_eq!(hold_state(&via_second, "order-1").await, v1::HoldState::Confirmed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_streams_availability_as_it_changes() {
    use futures_util::StreamExt;
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = others(leader, &[1, 2, 3])[0];
    let client = cluster.client();
    set_up_shop(&client, 5, 60_000, None).await;
    // A watch is served from the follower's own state: it must have applied the SKU's creation
    // (a node that has not yet answers NOT_FOUND).
    cluster.wait_for_applied(follower, cluster.committed(&[1, 2, 3]).await).await;

    let channel = client.channel_to(&cluster.address(follower)).unwrap();
    let mut watch = stockraft_proto::v1::inventory_client::InventoryClient::new(channel)
        .watch_availability(v1::WatchAvailabilityRequest { sku_ids: vec![SKU.into()] })
        .await
        .expect("a watch on a follower")
        .into_inner();
    // The first message is the current figure, as far as the follower has applied (the
    // stock may still be on its way to it).
    let mut seen = vec![watch.next().await.unwrap().unwrap().sellable_units];
    reserve(&client, "order-1", "alice", 2).await.unwrap();
    reserve(&client, "order-2", "bob", 3).await.unwrap();
    while seen.last() != Some(&0) {
        let update = tokio::time::timeout(CONDITION_TIMEOUT, watch.next()).await.expect("an update in time");
        seen.push(update.unwrap().unwrap().sellable_units);
    }
    // Figures only go down here, and each one sent differs from the one before.
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_expire_on_every_replica_at_the_same_log_position() {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(&[1, 2, 3]).await;
    let client = cluster.client();
    // The shortest TTL the ledger allows: one second.
    set_up_shop(&client, 10, 1_000, None).await;
    for n in 0..4 {
        reserve(&client, &format!("order-{n}"), &format!("buyer-{n}"), 1).await.unwrap();
    }
    wait_for("the holds to expire", || async {
        (hold_state(&client, "order-3").await == v1::HoldState::Expired).then_some(())
    })
    .await;
    let committed = cluster.committed(&[1, 2, 3]).await;
    for id in [1, 2, 3] {
        cluster.wait_for_applied(id, committed).await;
    }
    let mut ledgers = Vec::new();
    for id in [1, 2, 3] {
        ledgers.push(local_ledger(&cluster, id, v1::LedgerOp::Expire).await);
    }
    assert_eq!(ledgers[0].len(), 4, "{ledgers:?}");
    assert_eq!(ledgers[0], ledgers[1]);
    assert_eq!(ledgers[0], ledgers[2]);
    for id in [1, 2, 3] {
        assert_eq!(local_availability(&cluster, id).await, Some(10), "node {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_cluster_appends_nothing_until_a_hold_comes_due() {
    // The Expire timer looks ten times a second, and proposes only when the ledger has work due.
    let eager = Settings { extra: "expire_interval_ms = 100\n".into(), ..Settings::default() };
    let cluster = Cluster::start_with(3, eager);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let client = cluster.client();
    set_up_shop(&client, 10, 1_000, None).await;
    let quiet_for = |what: &'static str| {
        let cluster = &cluster;
        async move {
            let before = cluster.status(leader).await.expect("the leader's status").last_log_index;
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            let after = cluster.status(leader).await.expect("the leader's status").last_log_index;
            assert_eq!(after, before, "{what}: the log moved with nothing due");
        }
    };
    quiet_for("a catalog and no holds").await;

    reserve(&client, "order-1", "alice", 1).await.unwrap();
    wait_for("the hold to expire", || async {
        (hold_state(&client, "order-1").await == v1::HoldState::Expired).then_some(())
    })
    .await;
    assert_eq!(local_ledger(&cluster, leader, v1::LedgerOp::Expire).await.len(), 1);
    assert_eq!(availability(&client).await.unwrap().sellable_units, 10);
    // The expired hold is kept (closed) for a week and its request id for a day: nothing more
    // is due until then.
    quiet_for("an expired hold").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_loses_no_acknowledged_hold() {
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let client = cluster.client();
    set_up_shop(&client, 100, 600_000, None).await;
    let mut acknowledged = Vec::new();
    for n in 0..20 {
        let hold = format!("order-{n}");
        reserve(&client, &hold, &format!("buyer-{n}"), 1).await.expect("a reserve");
        acknowledged.push(hold);
    }

    cluster.kill(leader);
    let survivors = others(leader, &[1, 2, 3]);
    cluster.wait_for_new_leader(&survivors, leader).await;
    for hold in &acknowledged {
        assert_eq!(hold_state(&client, hold).await, v1::HoldState::Held, "{hold} after the leader died");
    }
    // The sale goes on under the new leader.
    reserve(&client, "order-after", "buyer-after", 1).await.expect("a reserve under the new leader");

    // The old leader comes back from its data dir, follows, and agrees on every hold.
    cluster.spawn(leader);
    let committed = cluster.committed(&[1, 2, 3]).await;
    cluster.wait_for_applied(leader, committed).await;
    assert_eq!(local_availability(&cluster, leader).await, Some(79));
    let reserved: BTreeSet<String> =
        local_ledger(&cluster, leader, v1::LedgerOp::Reserve).await.into_iter().map(|(_, hold)| hold).collect();
    assert_eq!(reserved.len(), 21);
    assert!(acknowledged.iter().all(|h| reserved.contains(h)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_from_its_data_dir_catches_up() {
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = others(leader, &[1, 2, 3])[0];
    let client = cluster.client();
    set_up_shop(&client, 50, 600_000, None).await;
    cluster.wait_for_applied(follower, cluster.committed(&[1, 2, 3]).await).await;

    cluster.stop(follower);
    for n in 0..10 {
        reserve(&client, &format!("order-{n}"), &format!("buyer-{n}"), 2).await.expect("writes go on with 2 of 3");
    }
    cluster.spawn(follower);
    let committed = cluster.committed(&[1, 2, 3]).await;
    cluster.wait_for_applied(follower, committed).await;
    assert_eq!(local_availability(&cluster, follower).await, Some(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_node_joins_by_snapshot_and_leaves_again() {
    // Keep no log behind a snapshot, so the new node cannot catch up from the log.
    let settings = Settings { raft: "logs_kept_after_snapshot = 0\n".into(), ..Settings::default() };
    let mut cluster = Cluster::start_with(3, settings);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let client = cluster.client();
    set_up_shop(&client, 40, 600_000, None).await;
    for n in 0..5 {
        reserve(&client, &format!("order-{n}"), &format!("buyer-{n}"), 1).await.unwrap();
    }
    let snapshot = call!(cluster.client_of(leader), cluster, trigger_snapshot, v1::TriggerSnapshotRequest {})
        .expect("a snapshot on the leader");
    assert!(snapshot.log_index > 0 && snapshot.size_bytes > 0);

    let address =
        cluster.add_spare(4, &Settings { raft: "logs_kept_after_snapshot = 0\n".into(), ..Settings::default() });
    cluster.spawn(4);
    let added = call!(
        client,
        cluster,
        add_learner,
        v1::AddLearnerRequest { node_id: 4, address: address.clone(), wait_for_catch_up: true }
    )
    .expect("node 4 added as a learner");
    assert!(added.members.iter().any(|m| m.node_id == 4 && !m.voter));
    let joined = wait_for("node 4 to answer", || cluster.status(4)).await;
    assert!(joined.snapshot_log_index.is_some_and(|i| i >= snapshot.log_index), "node 4 got no snapshot: {joined:?}");
    // Replicated is not yet applied: wait for node 4's state machine before reading from it.
    cluster.wait_for_applied(4, cluster.committed(&[1, 2, 3]).await).await;
    assert_eq!(local_availability(&cluster, 4).await, Some(35));

    let voters = call!(
        client,
        cluster,
        change_membership,
        v1::ChangeMembershipRequest { voter_ids: vec![1, 2, 3, 4], retain_as_learners: false }
    )
    .expect("node 4 becomes a voter");
    assert_eq!(voters.members.iter().filter(|m| m.voter).count(), 4);
    reserve(&client, "order-4-voters", "buyer-x", 1).await.expect("a write with four voters");

    let back = call!(
        client,
        cluster,
        change_membership,
        v1::ChangeMembershipRequest { voter_ids: vec![1, 2, 3], retain_as_learners: false }
    )
    .expect("node 4 removed");
    assert!(back.members.iter().all(|m| m.node_id != 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_invalid_argument_and_change_nothing() {
    // No hold comes due during the test (TTL 10 minutes), so only client calls move the log.
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = cluster.client_of(others(leader, &[1, 2, 3])[0]);
    set_up_shop(&follower, 10, 600_000, None).await;
    let reserves_before = local_ledger(&cluster, leader, v1::LedgerOp::Reserve).await.len();
    let log_before = cluster.status(leader).await.expect("the leader's status").last_log_index;

    let cases: Vec<(&str, v1::ReserveRequest)> = vec![
        ("a negative quantity", reserve_request("order-1", "alice", -1)),
        ("a zero quantity", reserve_request("order-1", "alice", 0)),
        ("an empty hold id", reserve_request("", "alice", 1)),
        ("a hold id with a space", reserve_request("order 1", "alice", 1)),
        ("no request id", v1::ReserveRequest { request_id: String::new(), ..reserve_request("order-1", "alice", 1) }),
        ("no lines", v1::ReserveRequest { lines: vec![], ..reserve_request("order-1", "alice", 1) }),
        (
            "more lines than a reserve may have",
            v1::ReserveRequest {
                lines: (0..17).map(|n| v1::Line { sku_id: format!("sku-{n}"), quantity: 1 }).collect(),
                ..reserve_request("order-1", "alice", 1)
            },
        ),
    ];
    for (what, request) in cases {
        let error = call!(follower, inventory, reserve, request).expect_err(what);
        let status = error.status().unwrap_or_else(|| panic!("{what}: {error}"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{what}: {status:?}");
        assert_eq!(error.reason(), v1::Reason::InvalidArgument, "{what}");
    }
    // A SKU whose holds would expire in 10 ms (the floor is a second): the ledger's sale-rule
    // checks run where the call arrives, too.
    let too_short = v1::UpsertSkuRequest {
        request_id: stockraft_client::new_request_id(),
        sku_id: "flash".into(),
        components: vec![v1::Component { item_id: ITEM.into(), quantity: 1 }],
        rules: Some(v1::SaleRules { hold_ttl_ms: 10, ..v1::SaleRules::default() }),
    };
    let error = call!(follower, catalog, upsert_sku, too_short.clone()).expect_err("a 10 ms TTL");
    assert_eq!(error.reason(), v1::Reason::InvalidArgument, "{error}");
    // The same SKU as the second operation of a bulk import: the import is answered "not
    // applied", naming that operation, as when the ledger refuses one; nothing is proposed.
    let item = v1::UpsertItemRequest {
        request_id: stockraft_client::new_request_id(),
        item: Some(v1::Item { id: "tea".into(), name: "Tea".into() }),
    };
    let ops = [v1::import_op::Op::Item(item), v1::import_op::Op::Sku(too_short)];
    let import = v1::ImportRequest { ops: ops.into_iter().map(|op| v1::ImportOp { op: Some(op) }).collect() };
    let reply = call!(follower, catalog, import, import).expect("an import reply");
    assert!(!reply.applied && reply.refused_op == 1, "{reply:?}");
    assert_eq!(reply.refusal.map(|d| d.reason), Some(v1::Reason::InvalidArgument as i32));
    // Refused before the log: no entry was proposed for any of them, on any node.
    for id in [1, 2, 3] {
        cluster.wait_for_applied(id, log_before).await;
        let log = cluster.status(id).await.expect("status").last_log_index;
        assert_eq!(log, log_before, "node {id}: bad requests must not reach the Raft log");
    }
    let missing = reserve(&follower, "order-1", "alice", 1).await;
    assert!(missing.is_ok(), "a valid reserve after the bad ones: {missing:?}");
    let unknown = call!(
        follower,
        inventory,
        reserve,
        v1::ReserveRequest {
            lines: vec![v1::Line { sku_id: "no-such-sku".into(), quantity: 1 }],
            ..reserve_request("order-2", "alice", 1)
        }
    );
    assert!(matches!(&unknown, Err(Error::Rejected(s)) if s.code() == tonic::Code::NotFound), "{unknown:?}");

    // Only the one valid reserve reached the ledger; stock moved by exactly its unit.
    assert_eq!(local_ledger(&cluster, leader, v1::LedgerOp::Reserve).await.len(), reserves_before + 1);
    let availability = availability(&follower).await.unwrap();
    assert_eq!(availability.sellable_units, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_leader_and_reflection_lists_the_api() {
    use futures_util::StreamExt;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };

    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = others(leader, &[1, 2, 3])[0];
    let channel = cluster.client().channel_to(&cluster.address(follower)).unwrap();

    // Reflection (what grpcurl uses) lists the three services on any node.
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let Some(Ok(reply)) = replies.next().await else { panic!("no reflection reply") };
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else { panic!("{reply:?}") };
    let names: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in ["stockraft.v1.Inventory", "stockraft.v1.Catalog", "stockraft.v1.Cluster", "grpc.health.v1.Health"] {
        assert!(names.contains(service), "{service} missing from {names:?}");
    }

    // Health: SERVING while a leader is known...
    let mut health = HealthClient::new(channel);
    let serving = |service: &str| HealthCheckRequest { service: service.into() };
    let status = health.check(serving("stockraft.v1.Inventory")).await.unwrap().into_inner().status;
    assert_eq!(status, ServingStatus::Serving as i32);

    // ...and NOT_SERVING once the follower is alone and no leader can be elected.
    for id in others(follower, &[1, 2, 3]) {
        cluster.kill(id);
    }
    wait_for("the lone follower to report NOT_SERVING", || {
        let mut health = health.clone();
        async move {
            let status = health.check(serving("")).await.ok()?.into_inner().status;
            (status == ServingStatus::NotServing as i32).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reserve_answers_each_reserve_in_its_slot() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = cluster.client_of(others(leader, &[1, 2, 3])[0]);
    set_up_shop(&follower, 2, 600_000, None).await;
    let batch = v1::ReserveBatchRequest {
        reserves: vec![
            reserve_request("order-1", "alice", 1),
            reserve_request("order-2", "bob", -1), // refused at the edge
            reserve_request("order-3", "carol", 1),
            reserve_request("order-4", "dave", 1), // no stock left
        ],
    };
    let reply = call!(follower, inventory, reserve_batch, batch).expect("a batch through a follower");
    use v1::reserve_outcome::Outcome;
    let reasons: Vec<Option<i32>> = reply
        .outcomes
        .iter()
        .map(|o| match &o.outcome {
            Some(Outcome::Held(_)) => None,
            Some(Outcome::Rejected(detail)) => Some(detail.reason),
            None => panic!("an empty slot"),
        })
        .collect();
    assert_eq!(reasons, [None, Some(v1::Reason::InvalidArgument as i32), None, Some(v1::Reason::OutOfStock as i32)]);
    assert_eq!(hold_state(&follower, "order-3").await, v1::HoldState::Held);
    let availability = availability(&follower).await.unwrap();
    assert_eq!(availability.sellable_units, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserves_from_many_tasks_are_batched_and_each_caller_gets_what_it_would_get_alone() {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(&[1, 2, 3]).await;
    let client = std::sync::Arc::new(cluster.client());
    set_up_shop(&client, 12, 600_000, Some(1)).await;

    // One refusal of each kind, first as a unary call gets it...
    let alone = cluster.client();
    reserve(&alone, "alone-1", "carol", 1).await.expect("carol's first unit");
    let capped_alone = reserve(&alone, "alone-2", "carol", 1).await.expect_err("carol's cap is 1");
    let zero_alone = reserve(&alone, "alone-3", "dave", 0).await.expect_err("a zero quantity");

    // A retry of a batched reserve with its request id is answered from the idempotency table.
    let request = reserve_request("order-again", "erin", 1);
    let first = client.reserve(request.clone()).await.expect("erin's unit");
    let again = client.reserve(request).await.expect("the same answer");
    assert_eq!((first.hold_id, first.log_index), (again.hold_id, again.log_index), "not a second hold");

    // ...then 40 buyers at once through the coalescing client, with the same two mistakes.
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..40 {
        let client = client.clone();
        let request = reserve_request(&format!("order-{n}"), &format!("b{n}"), 1);
        calls.spawn(async move { (n, client.reserve(request).await) });
    }
    let capped = client.reserve(reserve_request("batched-2", "carol", 1)).await.expect_err("carol's cap is 1");
    let zero = client.reserve(reserve_request("batched-3", "dave", 0)).await.expect_err("a zero quantity");
    let mut held = Vec::new();
    while let Some(joined) = calls.join_next().await {
        match joined.expect("a buyer task") {
            (n, Ok(hold)) => {
                assert_eq!(hold.hold_id, format!("order-{n}"), "each caller gets its own hold");
                held.push(n);
            }
            (_, Err(e)) => assert_eq!(e.reason(), v1::Reason::OutOfStock, "{e}"),
        }
    }
    assert_eq!(held.len(), 10, "12 units: carol's, erin's and 10 of the 40: {held:?}");
    for (batched, alone) in [(&capped, &capped_alone), (&zero, &zero_alone)] {
        let (batched, alone) = (batched.status().expect("a refusal"), alone.status().expect("a refusal"));
        assert_eq!(batched.code(), alone.code(), "{batched:?} / {alone:?}");
        assert_eq!(batched.message(), alone.message());
        let detail = |status| stockraft_client::error_detail(status).map(|d| (d.reason, d.sku_id, d.limit, d.allowed));
        assert_eq!(detail(batched), detail(alone));
    }
    assert_eq!(availability(&client).await.unwrap().sellable_units, 0);
}
