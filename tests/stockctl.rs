//! stockctl against a real 3-node cluster: what an operator types, what it prints, and the exit
//! codes scripts rely on (0 done, 2 usage, 3 refused by the cluster, 4 cluster unreachable, 5 a
//! node unhealthy).

use std::process::{Command, Output};
use stockraft_testkit::*;

fn stockctl(endpoints: &[String], args: &[&str]) -> Output {
    Command::new(binary("stockctl"))
        .arg("--endpoints")
        .arg(endpoints.join(","))
        .args(args)
        .output()
        .expect("run stockctl")
}

fn ok(endpoints: &[String], args: &[&str]) -> String {
    let out = stockctl(endpoints, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stockctl {args:?}: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json(endpoints: &[String], args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(endpoints, &all)).expect("stockctl prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sets_up_a_sale_and_sells_through_any_node() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let all = cluster.endpoints();
    let follower = vec![cluster.address(if leader == 1 { 2 } else { 1 })];

    ok(&all, &["warehouse", "upsert", "sh-01", "--name", "Shanghai", "--region", "east"]);
    ok(&all, &["item", "upsert", "moutai-500ml", "--name", "Moutai 500 ml"]);
    let sku = json(&all, &["sku", "upsert", "moutai-flash", "--item", "moutai-500ml", "--units-per-buyer", "2"]);
    assert_eq!(sku["rules"]["unitsPerBuyerMax"], 2);
    let level = json(&all, &["stock", "receive", "moutai-500ml", "sh-01", "3", "--note", "PO-1"]);
    assert_eq!(level["available"], 3);

    // Through a follower only: it forwards to the leader.
    let held = json(&follower, &["reserve", "--sku", "moutai-flash:2", "--buyer", "alice", "--hold", "order-1"]);
    // JSON is protobuf's JSON mapping: enum values by their full names.
    assert_eq!(held["state"], "HOLD_STATE_HELD");
    assert_eq!(held["allocations"][0]["warehouseId"], "sh-01");

    // The table format names the fields, and enum values without their prefix.
    let table = ok(&follower, &["hold", "order-1"]);
    assert!(table.contains("buyer_id") && table.contains("alice") && table.contains("HELD"), "{table}");
    assert!(!table.contains("HOLD_STATE_"), "{table}");

    // Refused by the cluster: exit code 3 with the machine-readable reason.
    let refused = stockctl(&follower, &["reserve", "--sku", "moutai-flash:2", "--buyer", "bob", "--hold", "order-2"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("OUT_OF_STOCK"), "{refused:?}");

    let confirmed = json(&all, &["confirm", "order-1"]);
    assert_eq!(confirmed["state"], "HOLD_STATE_CONFIRMED");
    let availability = json(&follower, &["availability", "moutai-flash"]);
    assert_eq!(availability["sellableUnits"], 1);

    let watched = ok(&follower, &["watch", "moutai-flash", "--count", "1"]);
    assert!(watched.contains("sku_id=moutai-flash"), "{watched}");

    let ledger = json(&all, &["ledger", "--op", "reserve"]);
    assert_eq!(ledger["entries"].as_array().map(Vec::len), Some(1));

    let status = ok(&all, &["cluster", "status"]);
    assert!(status.matches("leader").count() >= 2, "{status}");

    // A buyer back on the payment page after the hold expired: a re-hold, then the payment.
    ok(&all, &["sku", "upsert", "tea-flash", "--item", "moutai-500ml", "--ttl-ms", "1000", "--rehold-limit", "2"]);
    json(&all, &["reserve", "--sku", "tea-flash:1", "--buyer", "carol", "--hold", "order-9"]);
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let again = json(&follower, &["rehold", "order-9"]);
    assert_eq!((again["state"].as_str(), again["reheld"].as_bool()), (Some("HOLD_STATE_HELD"), Some(true)), "{again}");
    let paid = json(&all, &["confirm", "order-9"]);
    assert_eq!(paid["state"], "HOLD_STATE_CONFIRMED");
    let twice = stockctl(&all, &["rehold", "order-9"]);
    assert_eq!(twice.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("INVALID_TRANSITION"), "{twice:?}");
}

#[test]
fn usage_errors_and_an_unreachable_cluster_have_their_own_exit_codes() {
    let nowhere = vec![format!("127.0.0.1:{}", loopback_port())];
    let usage = stockctl(&nowhere, &["reserve", "--sku", "moutai-flash"]);
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");
    let unreachable = stockctl(&nowhere, &["--timeout", "1", "availability", "moutai-flash"]);
    assert_eq!(unreachable.status.code(), Some(4), "{unreachable:?}");
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("unreachable"));
}

#[test]
fn completions_and_man_pages_come_from_the_same_definitions_as_the_flags() {
    let nowhere = vec!["127.0.0.1:1".to_string()];
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&nowhere, &["completion", shell]);
        assert!(script.contains("stockctl") && script.contains("add-learner"), "{shell}: {script}");
    }
    let dir = tempfile_dir();
    let out = stockctl(&nowhere, &["man", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let page = std::fs::read_to_string(dir.join("stockctl-endpoint-health.1")).expect("a page per subcommand");
    assert!(page.contains("\\-\\-cluster"), "{page}");
    assert!(dir.join("stockctl.1").exists() && dir.join("stockctl-member-remove.1").exists());
    std::fs::remove_dir_all(dir).ok();
}

/// A fresh directory under the system's temp dir.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stockctl-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The seed's scheduled Moutai release: the sale opens at one instant for everyone, on every
/// node, by the cluster's clock; before it a buyer is told when it opens, after the close no new
/// demand is taken, and a window that sells nothing is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_release_opens_at_one_instant_and_closes_for_every_node() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let all = cluster.endpoints();
    let follower = vec![cluster.address(if leader == 1 { 2 } else { 1 })];
    set_up_shop(&cluster.client(), 10, 600_000, Some(2)).await;

    let sku = json(&all, &["sku", "window", SKU, "--opens-at", "+3s"]);
    let opens = sku["window"]["opensAtMs"].as_u64().expect("opensAtMs");
    let shown = json(&follower, &["availability", SKU]);
    assert_eq!(shown["window"]["opensAtMs"], opens, "availability says when it opens: {shown}");

    // Early, through a follower: refused with the opening time, nothing held.
    let early = stockctl(&follower, &["reserve", "--sku", SKU, "--buyer", "alice", "--hold", "early-1"]);
    let said = String::from_utf8_lossy(&early.stderr);
    assert_eq!(early.status.code(), Some(3), "{said}");
    assert!(said.contains("NOT_YET_ON_SALE") && said.contains("(opens 20"), "{said}");
    let refused = cluster.client().reserve(reserve_request("early-2", "bob", 1)).await.unwrap_err();
    let detail = stockraft_client::error_detail(refused.status().unwrap()).unwrap();
    assert_eq!((detail.sale_opens_at_ms, detail.sku_id.as_str()), (Some(opens), SKU));
    assert_eq!(json(&all, &["availability", SKU])["sellableUnits"], 10);

    // At the opening (the cluster's clock decides; this machine's is the same one here).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let wait = opens.saturating_sub(now) + 50;
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    let held = json(&follower, &["reserve", "--sku", SKU, "--buyer", "alice", "--hold", "first"]);
    assert_eq!(held["state"], "HOLD_STATE_HELD");

    // Closed now: no new demand, but the hold taken in the window is paid.
    json(&all, &["sku", "window", SKU, "--opens-at", &opens.to_string(), "--closes-at", "now"]);
    let late = stockctl(&all, &["reserve", "--sku", SKU, "--buyer", "carol", "--hold", "late"]);
    let said = String::from_utf8_lossy(&late.stderr);
    assert!(late.status.code() == Some(3) && said.contains("SALE_CLOSED") && said.contains("(closed 20"), "{said}");
    assert_eq!(json(&all, &["confirm", "first"])["state"], "HOLD_STATE_CONFIRMED");

    // A window that would sell nothing, and a window with no times at all.
    let backwards = stockctl(&all, &["sku", "window", SKU, "--opens-at", "+2h", "--closes-at", "+1h"]);
    let said = String::from_utf8_lossy(&backwards.stderr);
    assert!(backwards.status.code() == Some(3) && said.contains("would sell nothing"), "{said}");
    assert_eq!(stockctl(&all, &["sku", "window", SKU]).status.code(), Some(2), "no times, no --clear: a usage error");
    let unchanged = json(&all, &["sku", "get", SKU]);
    assert!(unchanged["window"]["closesAtMs"].is_u64(), "the refused window changed nothing: {unchanged}");
    let cleared = json(&all, &["sku", "window", SKU, "--clear"]);
    assert!(cleared["window"].is_null(), "{cleared}");
    json(&all, &["reserve", "--sku", SKU, "--buyer", "carol", "--hold", "after-clear"]);
}

/// The scalper's twenty accounts on one phone: with the phone's digest sent as an identity key,
/// the SKU's per-buyer cap holds for the phone, so the twenty accounts get one bottle between
/// them; and a campaign caps each person across every Moutai SKU at once, through any node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_accounts_on_one_phone_are_capped_as_one_person_and_a_campaign_caps_across_skus() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let all = cluster.endpoints();
    let follower = vec![cluster.address(if leader == 1 { 2 } else { 1 })];
    set_up_shop(&cluster.client(), 50, 600_000, Some(1)).await;

    let first = json(
        &follower,
        &["reserve", "--sku", SKU, "--buyer", "acct-0", "--hold", "h-0", "--identity-key", "phone:5f1c"],
    );
    assert_eq!(first["state"], "HOLD_STATE_HELD");
    assert_eq!(json(&all, &["hold", "h-0"])["identityKeys"][0], "phone:5f1c");
    for n in 1..20 {
        let (buyer, hold) = (format!("acct-{n}"), format!("h-{n}"));
        let refused = stockctl(
            &follower,
            &["reserve", "--sku", SKU, "--buyer", &buyer, "--hold", &hold, "--identity-key", "phone:5f1c"],
        );
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(3), "{said}");
        assert!(said.contains("LIMIT_EXCEEDED") && said.contains("identity key phone:5f1c"), "{said}");
    }
    assert_eq!(json(&all, &["availability", SKU])["sellableUnits"], 49, "one bottle for the phone");

    // The refusal's detail names the key and the cap, for programs.
    let mut request = reserve_request("h-rust", "acct-rust", 1);
    request.identity_keys = vec!["phone:5f1c".into()];
    let refused = cluster.client().reserve(request).await.unwrap_err();
    let detail = stockraft_client::error_detail(refused.status().unwrap()).unwrap();
    assert_eq!(
        (detail.identity_key.as_str(), detail.limit.as_str(), detail.allowed),
        ("phone:5f1c", "units_per_buyer_max", 1)
    );

    // A campaign over two SKUs: 2 units per person, per 30 days, whichever SKU they come from.
    ok(&all, &["sku", "upsert", "moutai-gift", "--item", "moutai-500ml"]);
    let campaign = json(
        &all,
        &[
            "campaign",
            "upsert",
            "moutai-2026",
            "--sku",
            SKU,
            "--sku",
            "moutai-gift",
            "--units-per-person",
            "2",
            "--window",
            "30d",
        ],
    );
    assert_eq!(campaign["windowMs"], 30u64 * 24 * 3_600_000);
    json(
        &follower,
        &["reserve", "--sku", "moutai-gift:2", "--buyer", "dana", "--hold", "g-1", "--identity-key", "card:77"],
    );
    let over = stockctl(
        &follower,
        &["reserve", "--sku", SKU, "--buyer", "erin", "--hold", "g-2", "--identity-key", "card:77"],
    );
    let said = String::from_utf8_lossy(&over.stderr);
    assert!(over.status.code() == Some(3) && said.contains("campaign moutai-2026"), "{said}");
    let usage = json(&follower, &["campaign", "get", "moutai-2026", "--identity-key", "card:77"]);
    assert_eq!(usage["countedUnits"], 2, "{usage}");
    let listed = json(&all, &["campaign", "list"]);
    assert_eq!(listed["campaigns"][0]["peopleTracked"], 2, "dana and card:77: {listed}");

    // Bad input changes nothing: an unknown SKU, and five keys on one reserve.
    let unknown = stockctl(&all, &["campaign", "upsert", "c2", "--sku", "no-such", "--units-per-person", "1"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("NOT_FOUND"), "{unknown:?}");
    let keys: Vec<String> = (0..5).flat_map(|n| ["--identity-key".to_string(), format!("k{n}")]).collect();
    let mut args = vec!["reserve", "--sku", SKU, "--buyer", "frank", "--hold", "k-5"];
    args.extend(keys.iter().map(String::as_str));
    let five = stockctl(&all, &args);
    assert!(String::from_utf8_lossy(&five.stderr).contains("1 to 4"), "{five:?}");
    assert_eq!(json(&all, &["availability", SKU])["sellableUnits"], 47, "the phone's bottle and dana's two");
}

/// The waitlist when the Moutai sells out: buyers refused for stock take places in order,
/// through any node; a released bottle goes to the next in line in the entry that freed it
/// (seen on a watch of the waiting order), an unpaid waitlist hold expires to the next one, and
/// a bot's plain reserve cannot take a bottle while anyone waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waitlist_hands_released_bottles_to_the_next_in_line() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let all = cluster.endpoints();
    let follower = vec![cluster.address(if leader == 1 { 2 } else { 1 })];
    set_up_shop(&cluster.client(), 2, 3_000, Some(1)).await;
    let sku = json(&all, &["waitlist", "open", SKU, "--places", "3"]);
    assert_eq!(sku["waitlistLengthMax"], 3);
    json(&all, &["reserve", "--sku", SKU, "--buyer", "alice", "--hold", "h-alice"]);
    json(&all, &["reserve", "--sku", SKU, "--buyer", "bob", "--hold", "h-bob"]);

    let carol = json(&follower, &["reserve", "--sku", SKU, "--buyer", "carol", "--hold", "h-carol", "--wait"]);
    assert_eq!((carol["state"].as_str(), carol["waitlistPosition"].as_u64()), (Some("HOLD_STATE_WAITLISTED"), Some(1)));
    let dave = json(&follower, &["reserve", "--sku", SKU, "--buyer", "dave", "--hold", "h-dave", "--wait"]);
    assert_eq!(dave["waitlistPosition"], 2);
    let again = stockctl(&follower, &["reserve", "--sku", SKU, "--buyer", "dave", "--hold", "h-dave-2", "--wait"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("ALREADY_EXISTS"), "{again:?}");
    assert_eq!(json(&all, &["availability", SKU])["waitingBuyers"], 2);
    assert_eq!(json(&all, &["hold", "h-dave"])["state"], "HOLD_STATE_WAITLISTED");

    // Carol's checkout server follows her order on a watch.
    let watch = {
        let endpoints = all.clone();
        std::thread::spawn(move || {
            stockctl(&endpoints, &["--output", "json", "watch-holds", "h-carol", "--count", "2"])
        })
    };
    wait_until("the watch shows carol waiting", || json(&all, &["hold", "h-carol"])["waitlistPosition"] == 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    json(&all, &["release", "h-alice"]);
    let seen = watch.join().unwrap();
    let seen = String::from_utf8_lossy(&seen.stdout);
    let states: Vec<&str> =
        ["HOLD_STATE_WAITLISTED", "HOLD_STATE_HELD"].into_iter().filter(|s| seen.contains(s)).collect();
    assert_eq!(states.len(), 2, "waiting, then held: {seen}");
    assert_eq!(json(&all, &["hold", "h-dave"])["waitlistPosition"], 1, "dave is next");

    // Open sale is closed while dave waits: a bot is refused even when a bottle is free.
    json(&all, &["release", "h-bob"]);
    assert_eq!(json(&all, &["hold", "h-dave"])["state"], "HOLD_STATE_HELD", "the freed bottle went to dave");
    json(&all, &["confirm", "h-dave"]);
    json(&follower, &["reserve", "--sku", SKU, "--buyer", "erin", "--hold", "h-erin", "--wait"]);
    let bot = stockctl(&follower, &["reserve", "--sku", SKU, "--buyer", "bot", "--hold", "h-bot"]);
    assert!(String::from_utf8_lossy(&bot.stderr).contains("OUT_OF_STOCK"), "{bot:?}");

    // Carol never pays: her 3-second hold expires, and the bottle goes to erin.
    wait_until("erin is granted carol's expired bottle", || {
        json(&all, &["hold", "h-erin"])["state"] == "HOLD_STATE_HELD"
    })
    .await;
    assert_eq!(json(&all, &["hold", "h-carol"])["state"], "HOLD_STATE_EXPIRED");
    json(&all, &["confirm", "h-erin"]);

    // Leaving, and leaving again.
    let frank = json(&follower, &["reserve", "--sku", SKU, "--buyer", "frank", "--hold", "h-frank", "--wait"]);
    assert_eq!(frank["state"], "HOLD_STATE_WAITLISTED", "sold out: {frank}");
    json(&all, &["waitlist", "leave", SKU, "h-frank"]);
    let gone = stockctl(&all, &["waitlist", "leave", SKU, "h-frank"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NOT_FOUND"), "{gone:?}");
    assert_eq!(json(&all, &["availability", SKU])["waitingBuyers"], 0);
}

/// Polls `done` every 50 ms for up to 15 s.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The raffle for the scarcest bottles: the back office commits to a seed before the entries,
/// buyers enter through any node (one entry per person), the seed is revealed at the draw, the
/// winners get holds, and anyone can recompute the draw with `raffle verify`; a tampered seed
/// file does not verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raffle_is_drawn_by_a_committed_seed_and_verified_after_the_draw() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let all = cluster.endpoints();
    let follower = vec![cluster.address(if leader == 1 { 2 } else { 1 })];
    set_up_shop(&cluster.client(), 2, 600_000, Some(1)).await;
    let dir = std::env::temp_dir().join(format!("stockctl-raffle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let seed_file = dir.join("moutai-2026.seed");
    let seed_path = seed_file.to_str().unwrap();

    let seeded = ok(&all, &["raffle", "seed", seed_path]);
    let commitment = seeded.split("seed_sha256 ").nth(1).unwrap().trim().to_string();
    let raffle = json(
        &all,
        &["raffle", "create", SKU, "--entries-open", "now", "--entries-close", "+3s", "--seed-file", seed_path],
    );
    assert_eq!(raffle["seedSha256"].as_str().map(|b64| b64.len()), Some(44), "32 bytes, base64 in JSON: {raffle}");

    let bot = stockctl(&follower, &["reserve", "--sku", SKU, "--buyer", "bot", "--hold", "h-bot"]);
    assert!(String::from_utf8_lossy(&bot.stderr).contains("sold by raffle"), "{bot:?}");
    for n in 0..6 {
        let (buyer, hold, phone) = (format!("buyer-{n}"), format!("entry-{n}"), format!("phone:{n}"));
        let entered = json(
            &follower,
            &["raffle", "enter", "--sku", SKU, "--buyer", &buyer, "--hold", &hold, "--identity-key", &phone],
        );
        assert_eq!(entered["state"], "HOLD_STATE_RAFFLE_ENTERED");
    }
    let twice = stockctl(
        &follower,
        &["raffle", "enter", "--sku", SKU, "--buyer", "other", "--hold", "entry-x", "--identity-key", "phone:0"],
    );
    assert!(String::from_utf8_lossy(&twice.stderr).contains("ALREADY_EXISTS"), "{twice:?}");
    let early = stockctl(&all, &["raffle", "draw", SKU, "--seed-file", seed_path]);
    assert!(String::from_utf8_lossy(&early.stderr).contains("takes entries until"), "{early:?}");

    // The entries close by the cluster's clock (this machine's, here).
    let closes = raffle["entriesCloseAtMs"].as_u64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    tokio::time::sleep(std::time::Duration::from_millis(closes.saturating_sub(now) + 50)).await;
    let late = stockctl(&all, &["raffle", "enter", "--sku", SKU, "--buyer", "late", "--hold", "entry-late"]);
    assert!(String::from_utf8_lossy(&late.stderr).contains("SALE_CLOSED"), "{late:?}");
    let drawn = json(&all, &["raffle", "draw", SKU, "--seed-file", seed_path]);
    let order: Vec<String> =
        drawn["draw"]["order"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
    assert_eq!(order.len(), 6);
    assert_eq!(json(&follower, &["hold", &order[0]])["state"], "HOLD_STATE_HELD", "the first drawn won");
    assert_eq!(json(&follower, &["hold", &order[1]])["state"], "HOLD_STATE_HELD", "so did the second: 2 bottles");
    assert_eq!(json(&follower, &["hold", &order[2]])["waitlistPosition"], 1, "the third is next in line");

    let verified = ok(&follower, &["raffle", "verify", SKU, "--seed-file", seed_path]);
    assert!(verified.starts_with("verified") && verified.contains(&commitment), "{verified}");
    std::fs::write(dir.join("forged.seed"), "00".repeat(32)).unwrap();
    let forged = stockctl(&all, &["raffle", "verify", SKU, "--seed-file", dir.join("forged.seed").to_str().unwrap()]);
    assert_eq!(forged.status.code(), Some(1), "{forged:?}");
    assert!(String::from_utf8_lossy(&forged.stderr).contains("not the one in the seed file"), "{forged:?}");

    // An unpaid winner's bottle passes down the draw order.
    json(&all, &["release", &order[0]]);
    assert_eq!(json(&all, &["hold", &order[2]])["state"], "HOLD_STATE_HELD");
    std::fs::remove_dir_all(&dir).unwrap();
}
