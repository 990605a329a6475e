//! Writes the seed corpus (`corpus/<target>/`): valid inputs of each kind, so the fuzzer starts
//! from messages that decode and mutates from there. `cargo run --example seeds` (`make fuzz`
//! does it); the seeds are committed.

use prost::Message;
use stockraft_core::{BuyerId, Command, CommandBody, HoldId, Line, Op, Request, RequestId, Reserve, SkuId};
use stockraft_proto::v1;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("the corpus dir");
    std::fs::write(dir.join(name), bytes).expect("a seed");
}

fn reserve(hold: &str) -> Request {
    Request::unchecked(
        RequestId::new(&format!("req-{hold}")).unwrap(),
        Op::Reserve(Reserve {
            hold: HoldId::new(hold).unwrap(),
            buyer: BuyerId::new("alice").unwrap(),
            region: None,
            signals: None,
            lines: vec![Line { sku: SkuId::new("moutai").unwrap(), quantity: 2 }],
        }),
    )
}

fn main() {
    // command: ledger commands as the log carries them.
    let commands = [
        ("reserve", CommandBody::Request(reserve("o1"))),
        ("batch", CommandBody::Batch(vec![reserve("o2"), reserve("o3")])),
        ("expire", CommandBody::Expire),
        (
            "confirm",
            CommandBody::Request(Request::unchecked(
                RequestId::new("c1").unwrap(),
                Op::Confirm { hold: HoldId::new("o1").unwrap() },
            )),
        ),
    ];
    for (name, body) in commands {
        write("command", name, &postcard::to_allocvec(&Command { now_ms: 5_000, body }).unwrap());
    }

    // snapshot: a shop's image, whole (mode 0, as a backup's image) and as a bare body (mode 1).
    let mut state = stockraft_fuzz::shop();
    let _ =
        state.apply(state.last_log_index() + 1, &Command { now_ms: 5_000, body: CommandBody::Request(reserve("o1")) });
    let image = state.snapshot();
    write("snapshot", "image", &[&[0u8][..], &image].concat());
    write("snapshot", "body", &[&[1u8][..], &image[6..image.len() - 8]].concat());

    // request: API messages, each behind the byte that selects its kind.
    let reserve = v1::ReserveRequest {
        request_id: "0123456789abcdef0123456789abcdef".into(),
        hold_id: "order-1".into(),
        buyer_id: "alice".into(),
        lines: vec![v1::Line { sku_id: "moutai".into(), quantity: 1 }],
        ..v1::ReserveRequest::default()
    };
    write("request", "reserve", &[&[0u8][..], &reserve.encode_to_vec()].concat());
    write("request", "deduct", &[&[1u8][..], &reserve.encode_to_vec()].concat());
    let sku = v1::UpsertSkuRequest {
        request_id: "r-sku".into(),
        sku_id: "tea-box".into(),
        components: vec![v1::Component { item_id: "bottle".into(), quantity: 2 }],
        rules: Some(v1::SaleRules { hold_ttl_ms: 60_000, units_per_buyer_max: Some(2), ..v1::SaleRules::default() }),
    };
    write("request", "sku", &[&[2u8][..], &sku.encode_to_vec()].concat());
    let import = v1::ImportRequest {
        ops: vec![
            v1::ImportOp {
                op: Some(v1::import_op::Op::Item(v1::UpsertItemRequest {
                    request_id: "r-i".into(),
                    item: Some(v1::Item { id: "tea".into(), name: "Tea".into() }),
                })),
            },
            v1::ImportOp {
                op: Some(v1::import_op::Op::CountStock(v1::CountStockRequest {
                    request_id: "r-c".into(),
                    item_id: "bottle".into(),
                    warehouse_id: "wh".into(),
                    units: 7,
                    note: "count".into(),
                })),
            },
        ],
    };
    write("request", "import", &[&[3u8][..], &import.encode_to_vec()].concat());
    let warehouse = v1::UpsertWarehouseRequest {
        request_id: "r-w".into(),
        warehouse: Some(v1::Warehouse {
            id: "cd-01".into(),
            name: "Chengdu".into(),
            region: "west".into(),
            priority: 2,
            active: Some(true),
        }),
    };
    write("request", "warehouse", &[&[4u8][..], &warehouse.encode_to_vec()].concat());
    let query = v1::QueryLedgerRequest { item_id: "bottle".into(), limit: 10, ..v1::QueryLedgerRequest::default() };
    write("request", "ledger-query", &[&[5u8][..], &query.encode_to_vec()].concat());
    println!("seeds written under {}/corpus", env!("CARGO_MANIFEST_DIR"));
}
