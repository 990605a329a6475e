//! The fuzz targets' bodies: each takes arbitrary bytes, feeds them to code that reads input
//! from outside the node, and asserts what must hold for every input. A panic is a finding.
//!
//! - [`command`]: bytes as a Raft log entry and as a ledger command (postcard, what the log
//!   store and the Raft transport decode); a command that decodes is applied to a shop that
//!   has stock and holds, and the ledger's invariants must still hold.
//! - [`snapshot`]: bytes as a backup or snapshot file (what `stockd --restore` and snapshot
//!   installs read), and as a snapshot body behind a valid header and checksum, so the fuzzer
//!   reaches the body decoder and the invariant checks a restore runs.
//! - [`request`]: bytes as API messages (protobuf), checked and converted as the server does
//!   for every call; what passes is applied, and the invariants must hold.

use prost::Message;
use stockraft_api::to_core;
use stockraft_core::{
    CampaignId, Command, CommandBody, DeductionMode, ItemId, Op, Request, RequestId, SaleRules, SkuId, State,
    StockFigure, UpsertCampaign, UpsertItem, UpsertSku, UpsertWarehouse, WarehouseId,
};
use stockraft_proto::v1;

/// A shop with a warehouse, an item with stock, a SKU and one open hold: commands that decode
/// have something to act on.
pub fn shop() -> State {
    let mut state = State::new();
    let id = |n: &str| RequestId::new(n).expect("a valid id");
    let ops = vec![
        Op::UpsertWarehouse(UpsertWarehouse {
            id: WarehouseId::new("wh").unwrap(),
            name: "Warehouse".into(),
            region: "east".into(),
            priority: 1,
            active: true,
        }),
        Op::UpsertItem(UpsertItem { id: ItemId::new("bottle").unwrap(), name: "Bottle".into() }),
        Op::UpsertSku(UpsertSku {
            id: SkuId::new("moutai").unwrap(),
            components: [(ItemId::new("bottle").unwrap(), 1)].into(),
            rules: SaleRules { mode: DeductionMode::PreDeduct, ..SaleRules::default() },
        }),
        Op::ReceiveStock(StockFigure {
            item: ItemId::new("bottle").unwrap(),
            warehouse: WarehouseId::new("wh").unwrap(),
            units: 100,
            note: "".into(),
        }),
        // A campaign over the SKU, so every reserve the fuzzer makes meets its caps.
        Op::UpsertCampaign(UpsertCampaign {
            id: CampaignId::new("season").unwrap(),
            skus: vec![SkuId::new("moutai").unwrap()],
            units_per_person_max: 3,
            window_ms: Some(3_600_000),
        }),
    ];
    for (n, op) in ops.into_iter().enumerate() {
        let request = Request::unchecked(id(&format!("seed-{n}")), op);
        let outcome = state.apply(n as u64 + 1, &Command { now_ms: 1_000, body: CommandBody::Request(request) });
        assert!(outcome.is_ok(), "the seed shop: {outcome:?}");
    }
    state
}

fn apply_and_check(state: &mut State, command: &Command) {
    let index = state.last_log_index() + 1;
    let _ = state.apply(index, command);
    if let Err(broken) = state.check_invariants() {
        panic!("invariant broken by {command}: {broken}");
    }
}

pub fn command(data: &[u8]) {
    let _ = postcard::from_bytes::<stockraft_storage::Entry>(data);
    if let Ok(command) = postcard::from_bytes::<Command>(data) {
        apply_and_check(&mut shop(), &command);
    }
}

pub fn snapshot(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        // A whole file: the framing, the metadata, then the image with its own checks.
        if let Ok((_, image)) = stockraft_storage::backup::parse(rest.to_vec()) {
            let _ = State::restore(&image);
        }
        return;
    }
    // A body behind a valid header and checksum: only the decoder and invariants stand guard.
    let mut image = b"STKR".to_vec();
    image.extend_from_slice(&stockraft_core::SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    image.extend_from_slice(rest);
    let checksum = xxh3(&image);
    image.extend_from_slice(&checksum.to_le_bytes());
    if let Ok(state) = State::restore(&image) {
        state.check_invariants().expect("a restored state passed its invariants");
        let again = State::restore(&state.snapshot()).expect("a restored state snapshots and restores");
        assert_eq!(again.snapshot(), state.snapshot(), "snapshots are canonical");
    }
}

fn xxh3(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

pub fn request(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else { return };
    let converted: Vec<Request> = match kind % 8 {
        0 => v1::ReserveRequest::decode(bytes).ok().and_then(|r| to_core::reserve(&r).ok()).into_iter().collect(),
        1 => v1::DeductRequest::decode(bytes).ok().and_then(|r| to_core::deduct(&r).ok()).into_iter().collect(),
        2 => v1::UpsertSkuRequest::decode(bytes).ok().and_then(|r| to_core::upsert_sku(&r).ok()).into_iter().collect(),
        3 => v1::ImportRequest::decode(bytes)
            .map(|r| r.ops.iter().filter_map(|op| to_core::import_op(op).ok()).collect())
            .unwrap_or_default(),
        4 => v1::UpsertWarehouseRequest::decode(bytes)
            .ok()
            .and_then(|r| to_core::upsert_warehouse(&r).ok())
            .into_iter()
            .collect(),
        6 => v1::SetSaleWindowRequest::decode(bytes)
            .ok()
            .and_then(|r| to_core::set_sale_window(&r).ok())
            .into_iter()
            .collect(),
        // A campaign, then a reserve that carries identity keys (the request's own bytes, read
        // as both), so the keyed path meets a campaign.
        7 => {
            let campaign = v1::UpsertCampaignRequest::decode(bytes).ok().and_then(|r| to_core::upsert_campaign(&r).ok());
            let reserve = v1::ReserveRequest::decode(bytes).ok().and_then(|r| to_core::reserve(&r).ok());
            campaign.into_iter().chain(reserve).collect()
        }
        _ => {
            // A query changes nothing: it only has to be answered without a panic.
            if let Some(query) = v1::QueryLedgerRequest::decode(bytes).ok().and_then(|q| to_core::ledger_query(&q).ok()) {
                let _ = shop().ledger(&query);
            }
            Vec::new()
        }
    };
    let mut state = shop();
    for request in converted {
        apply_and_check(&mut state, &Command { now_ms: 2_000, body: CommandBody::Request(request) });
    }
}
