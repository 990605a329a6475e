//! stockctl's commands: one per API call, grouped as the services are.

use crate::endpoints::{self, EndpointCommand, MemberCommand};
use crate::output::{self, Format};
use crate::{Failure, backup, bulk, certs};
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use stockraft_client::{Client, Error, new_request_id, v1};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take a hold for an order (all lines or none).
    Reserve(ReserveArgs),
    /// Allocate and commit at payment in one step (ON_PAYMENT SKUs).
    Deduct(ReserveArgs),
    /// Payment captured: commit the hold (a late confirm may re-hold and commit in one step).
    Confirm(HoldArgs),
    /// The buyer is back after the hold expired: hold it again with a fresh TTL, if the SKU's
    /// re-hold limit, grace window and stock allow.
    Rehold(HoldArgs),
    /// Order cancelled before payment: release the hold.
    Release(HoldArgs),
    /// Refund a confirmed order before it ships.
    Cancel(HoldArgs),
    /// Show a hold.
    Hold {
        hold: String,
        /// Answer from the node asked, without confirming leadership (may be stale).
        #[arg(long)]
        stale: bool,
    },
    /// Units of a SKU sellable now.
    Availability {
        sku: String,
        /// Answer from the node asked, without confirming leadership (may be stale).
        #[arg(long)]
        stale: bool,
    },
    /// Follow SKUs' availability as it changes (from the first endpoint; Ctrl-C stops).
    Watch {
        #[arg(required = true)]
        skus: Vec<String>,
        /// Stop after this many updates.
        #[arg(long)]
        count: Option<usize>,
    },
    /// A confirmed order leaves the warehouse.
    Ship(HoldArgs),
    #[command(subcommand)]
    Warehouse(WarehouseCommand),
    #[command(subcommand)]
    Item(ItemCommand),
    #[command(subcommand)]
    Sku(SkuCommand),
    /// SKUs sold under shared per-person caps.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// A SKU's waitlist when sold out.
    #[command(subcommand)]
    Waitlist(WaitlistCommand),
    /// A raffle for the scarcest goods: commit to a seed, take entries, draw, verify.
    #[command(subcommand)]
    Raffle(RaffleCommand),
    /// Follow orders as they change (from the first endpoint; Ctrl-C stops): waiting on a
    /// waitlist (WAITLISTED, with the place), then HELD when granted, and on.
    WatchHolds {
        #[arg(required = true)]
        holds: Vec<String>,
        /// Stop after this many updates.
        #[arg(long)]
        count: Option<usize>,
    },
    #[command(subcommand)]
    Stock(StockCommand),
    #[command(subcommand)]
    Inbound(InboundCommand),
    /// Query the audit ledger, or export it (ledger export FILE).
    Ledger(LedgerArgs),
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Health and status of each endpoint (or with --cluster, each member).
    #[command(subcommand)]
    Endpoint(EndpointCommand),
    /// List, add and remove members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Backups.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Load warehouses, items, SKUs or stock counts from a CSV file (with a header line).
    Import {
        #[arg(value_enum)]
        kind: bulk::Kind,
        file: std::path::PathBuf,
        /// Lines per all-or-nothing batch.
        #[arg(long, default_value_t = bulk::BATCH_LINES_MAX)]
        batch: usize,
        /// The field separator: one ASCII character (`;` for European ERP exports) or `tab`.
        #[arg(long, default_value = ",", value_parser = bulk::delimiter)]
        delimiter: u8,
        /// The file's text encoding: utf-8 (a byte-order mark is fine), gbk, gb18030, shift_jis,
        /// big5, windows-1252, ... (WHATWG labels).
        #[arg(long, default_value = "utf-8", value_parser = bulk::encoding)]
        encoding: &'static encoding_rs::Encoding,
    },
    /// Print a shell completion script: `source <(stockctl completion bash)`, or install it
    /// (bash: /etc/bash_completion.d/stockctl; zsh: a file _stockctl on $fpath).
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages for stockctl and every subcommand into DIR (stockctl.1, stockctl-member.1, ...).
    Man { dir: std::path::PathBuf },
    /// Write a private CA and certificates for a local TLS cluster into DIR.
    Certs {
        dir: std::path::PathBuf,
        /// Node certificates to make (node1.pem ...).
        #[arg(long, default_value_t = 3)]
        nodes: u64,
        /// Names and addresses the certificates are valid for.
        #[arg(long = "host", default_values = ["localhost", "127.0.0.1"])]
        hosts: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct Mutation {
    /// The idempotency key; a fresh one by default. Reuse it to retry a call whose outcome you
    /// did not see.
    #[arg(long)]
    request_id: Option<String>,
}

impl Mutation {
    fn id(&self) -> String {
        self.request_id.clone().unwrap_or_else(new_request_id)
    }
}

#[derive(Debug, Args)]
pub struct ReserveArgs {
    /// The order id (names the hold).
    #[arg(long)]
    hold: String,
    #[arg(long)]
    buyer: String,
    /// A line as SKU or SKU:QUANTITY (repeat for several lines).
    #[arg(long = "sku", required = true, value_name = "SKU[:QTY]")]
    lines: Vec<String>,
    /// Prefer warehouses in this region.
    #[arg(long, default_value = "")]
    region: String,
    /// Buyer signals for risk rules: ACCOUNT_AGE_DAYS,MEMBERSHIP_AGE_DAYS,ORDERS_LAST_YEAR,DAYS_SINCE_ACTIVE.
    #[arg(long, value_delimiter = ',', num_args = 4)]
    signals: Option<Vec<u32>>,
    /// An identity key of the person behind the account (a device id, a digest of the phone,
    /// address or card): caps apply to each key as to the buyer. Repeat for up to 4.
    #[arg(long = "identity-key", value_name = "KEY")]
    keys: Vec<String>,
    /// If the SKU is sold out, take a place on its waitlist (one --sku line only): the hold is
    /// granted under --hold when units come back (follow it with `watch-holds`).
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    mutation: Mutation,
}

#[derive(Debug, Args)]
pub struct HoldArgs {
    hold: String,
    #[command(flatten)]
    mutation: Mutation,
}

#[derive(Debug, Subcommand)]
pub enum WarehouseCommand {
    Upsert {
        id: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        region: String,
        /// Lower is preferred.
        #[arg(long, default_value_t = 1)]
        priority: u32,
        /// Keep the warehouse's stock but never allocate from it.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        mutation: Mutation,
    },
    List(PageArgs),
}

#[derive(Debug, Subcommand)]
pub enum ItemCommand {
    Upsert {
        id: String,
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        mutation: Mutation,
    },
    List(PageArgs),
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Mode {
    PreDeduct,
    OnOrder,
    OnPayment,
}

#[derive(Debug, Subcommand)]
pub enum SkuCommand {
    Upsert {
        id: String,
        /// A component as ITEM or ITEM:QUANTITY (repeat for bundles).
        #[arg(long = "item", required = true, value_name = "ITEM[:QTY]")]
        components: Vec<String>,
        #[arg(long, value_enum, default_value = "pre-deduct")]
        mode: Mode,
        /// PRE_DEDUCT hold lifetime in milliseconds (0: 20 minutes).
        #[arg(long, default_value_t = 0)]
        ttl_ms: u64,
        #[arg(long)]
        units_per_buyer: Option<u32>,
        #[arg(long)]
        open_holds_per_buyer: Option<u32>,
        /// Re-holds (`stockctl rehold`, or a late confirm) an expired hold may take (default 1).
        #[arg(long)]
        rehold_limit: Option<u32>,
        /// How long after its expiry a hold may be re-held, in milliseconds (default 5 minutes).
        #[arg(long)]
        rehold_grace_ms: Option<u64>,
        #[arg(long)]
        allow_split: bool,
        #[arg(long, default_value_t = 0)]
        presale_units: u32,
        #[command(flatten)]
        mutation: Mutation,
    },
    Get {
        id: String,
    },
    List(PageArgs),
    Block {
        sku: String,
        buyer: String,
        #[command(flatten)]
        mutation: Mutation,
    },
    Unblock {
        sku: String,
        buyer: String,
        #[command(flatten)]
        mutation: Mutation,
    },
    /// Schedule the sale: reserves and deducts are taken from --opens-at until --closes-at, in
    /// log time (the cluster's clock, not this machine's). Times: RFC 3339 with an offset
    /// (2026-12-12T10:00:00+08:00), now, +90s, or ms since the epoch (now and +90s are read off
    /// this machine's clock when the command runs). The window given replaces the SKU's whole
    /// window: an end left out is open.
    #[command(group(clap::ArgGroup::new("when").required(true).multiple(true).args(["opens_at", "closes_at", "clear"])))]
    Window {
        sku: String,
        #[arg(long, value_parser = crate::when::parse, value_name = "TIME")]
        opens_at: Option<u64>,
        #[arg(long, value_parser = crate::when::parse, value_name = "TIME")]
        closes_at: Option<u64>,
        /// Remove the window: on sale at all times.
        #[arg(long, conflicts_with_all = ["opens_at", "closes_at"])]
        clear: bool,
        #[command(flatten)]
        mutation: Mutation,
    },
}

#[derive(Debug, Subcommand)]
pub enum RaffleCommand {
    /// Write a fresh 32-byte random seed (hex) to FILE, readable by its owner only, and print
    /// its SHA-256: the commitment to publish. Keep the file secret until the draw.
    Seed { file: std::path::PathBuf },
    /// Put a PRE_DEDUCT SKU up for a raffle: entries from --entries-open until --entries-close
    /// (times as for `sku window`). The commitment is the SHA-256 of --seed-file, computed here:
    /// the seed itself is not sent.
    Create {
        sku: String,
        #[arg(long, value_parser = crate::when::parse, value_name = "TIME")]
        entries_open: u64,
        #[arg(long, value_parser = crate::when::parse, value_name = "TIME")]
        entries_close: u64,
        /// The seed file `raffle seed` wrote.
        #[arg(long, required_unless_present = "seed_sha256")]
        seed_file: Option<std::path::PathBuf>,
        /// Or the commitment itself, as 64 hex digits.
        #[arg(long, conflicts_with = "seed_file")]
        seed_sha256: Option<String>,
        #[command(flatten)]
        mutation: Mutation,
    },
    /// Enter the SKU's raffle (one --sku line; the order id becomes the hold's if it wins).
    Enter(ReserveArgs),
    /// Reveal the seed and draw (after the entries close): winners get holds as stock allows.
    Draw {
        sku: String,
        #[arg(long)]
        seed_file: std::path::PathBuf,
        #[command(flatten)]
        mutation: Mutation,
    },
    /// The raffle: its commitment, entries and draw.
    Show { sku: String },
    /// Recompute the draw from the published entries and the revealed seed, and check the seed
    /// against the commitment (and against --seed-file, if you hold it). Exit 1 if it does not
    /// verify.
    Verify {
        sku: String,
        #[arg(long)]
        seed_file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WaitlistCommand {
    /// Open (or resize) a PRE_DEDUCT SKU's waitlist: buyers who reserve with --wait when it is
    /// sold out take places in order, and units that come back go to them first.
    Open {
        sku: String,
        /// Most places (1 to 100,000).
        #[arg(long)]
        places: u32,
        #[command(flatten)]
        mutation: Mutation,
    },
    /// Close it to new buyers; those waiting keep their places and are still served.
    Close {
        sku: String,
        #[command(flatten)]
        mutation: Mutation,
    },
    /// Give up an order's place.
    Leave {
        sku: String,
        hold: String,
        #[command(flatten)]
        mutation: Mutation,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign or replace its SKUs, cap and window: at most --units-per-person units
    /// of its SKUs, all together, for each buyer and each identity key. What people counted
    /// stays counted.
    Upsert {
        id: String,
        /// A SKU of the campaign (repeat for each; 1 to 64).
        #[arg(long = "sku", required = true)]
        skus: Vec<String>,
        #[arg(long)]
        units_per_person: u32,
        /// Count only what was taken in this much log time (30d, 12h, ms); by default, for the
        /// campaign's life. Once set it may change, not be removed.
        #[arg(long, value_parser = crate::when::duration_ms, value_name = "DURATION")]
        window: Option<u64>,
        #[command(flatten)]
        mutation: Mutation,
    },
    /// Show a campaign; with --buyer or --identity-key, what that person has counted now.
    Get {
        id: String,
        #[arg(long, conflicts_with = "identity_key")]
        buyer: Option<String>,
        #[arg(long)]
        identity_key: Option<String>,
    },
    List,
}

#[derive(Debug, Args)]
pub struct FigureArgs {
    item: String,
    warehouse: String,
    units: i64,
    #[arg(long, default_value = "")]
    note: String,
    #[command(flatten)]
    mutation: Mutation,
}

#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Units arrived outside any inbound shipment.
    Receive(FigureArgs),
    /// A physical count: on_hand becomes UNITS.
    Count(FigureArgs),
    /// Units never offered for sale.
    Safety(FigureArgs),
    Get {
        item: String,
        warehouse: String,
    },
    Shortfalls(PageArgs),
}

#[derive(Debug, Subcommand)]
pub enum InboundCommand {
    Add {
        shipment: String,
        item: String,
        warehouse: String,
        units: u32,
        /// Expected arrival, milliseconds since the epoch.
        #[arg(long, default_value_t = 0)]
        eta_ms: u64,
        #[command(flatten)]
        mutation: Mutation,
    },
    Receive {
        shipment: String,
        units: i64,
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        mutation: Mutation,
    },
    Cancel {
        shipment: String,
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        mutation: Mutation,
    },
    List(PageArgs),
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Entries after this id.
    #[arg(long, default_value = "")]
    after: String,
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

/// A List call's request from the page flags (each List call has its own message, with these
/// two fields).
macro_rules! page_request {
    ($message:ident, $page:expr) => {
        v1::$message { after: $page.after.clone(), limit: $page.limit }
    };
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    action: Option<LedgerAction>,
    #[arg(long, global = true, default_value = "")]
    item: String,
    #[arg(long, global = true, default_value = "")]
    warehouse: String,
    #[arg(long, global = true, default_value = "")]
    hold: String,
    /// An operation name, e.g. RESERVE, EXPIRE, COUNT_STOCK.
    #[arg(long, global = true)]
    op: Option<String>,
    #[arg(long, default_value_t = 0)]
    from_seq: u64,
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Answer from the node asked, without confirming leadership (may be stale).
    #[arg(long, global = true)]
    stale: bool,
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Write every retained entry (matching the filters) to a CSV file (- for standard output).
    Export { file: String },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Stream a consistent backup from the leader into FILE (restore: stockd --restore FILE).
    Save { file: std::path::PathBuf },
    /// Check a backup FILE offline (header, checksum, every ledger invariant) and say what it
    /// holds: log index, term, members, the ledger's digest. No cluster needed.
    Status { file: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The cluster as each endpoint sees it (the same as `endpoint status`).
    Status,
    /// Add a node that receives the log but does not vote yet (see `member add-learner`).
    AddLearner {
        node_id: u64,
        address: String,
        /// Return once it is added instead of waiting (10 s) for the learner to catch up.
        #[arg(long)]
        no_wait: bool,
    },
    /// Make exactly these nodes the voters.
    ChangeMembership {
        #[arg(required = true, value_delimiter = ',')]
        voters: Vec<u64>,
        /// Keep nodes leaving the voter set as learners.
        #[arg(long)]
        retain: bool,
    },
    TransferLeader {
        node_id: u64,
    },
    /// Build a snapshot on the node asked (the first endpoint).
    Snapshot,
    /// Each endpoint's own applied state: digest (equal on replicas at the same index),
    /// invariant check and hold counts.
    CheckState,
    /// Show each endpoint's log filter, or set it (e.g. "info,stockraft_server=debug").
    LogFilter {
        filter: Option<String>,
    },
}

/// A call with the client's retries (the request is built once, so retries resend the same
/// request id); a failure ends the command.
macro_rules! call {
    ($($args:tt)*) => {
        stockraft_client::call!($($args)*)?
    };
}

fn lines(specs: &[String]) -> Result<Vec<v1::Line>, Error> {
    specs
        .iter()
        .map(|spec| {
            let (sku, quantity) = match spec.split_once(':') {
                Some((sku, q)) => {
                    (sku, q.parse().map_err(|_| Error::Usage(format!("{spec:?}: quantity {q:?} is not a number")))?)
                }
                None => (spec.as_str(), 1),
            };
            Ok(v1::Line { sku_id: sku.to_string(), quantity })
        })
        .collect()
}

fn components(specs: &[String]) -> Result<Vec<v1::Component>, Error> {
    Ok(lines(specs)?.into_iter().map(|l| v1::Component { item_id: l.sku_id, quantity: l.quantity }).collect())
}

fn deduct_request(a: &ReserveArgs) -> Result<v1::DeductRequest, Error> {
    let r = reserve_request(a)?;
    if a.wait {
        return Err(Error::Usage("--wait is for reserves: a deduct pays at once, it cannot wait".into()));
    }
    let v1::ReserveRequest { request_id, hold_id, buyer_id, region, signals, lines, identity_keys, .. } = r;
    Ok(v1::DeductRequest { request_id, hold_id, buyer_id, region, signals, lines, identity_keys })
}

fn reserve_request(a: &ReserveArgs) -> Result<v1::ReserveRequest, Error> {
    Ok(v1::ReserveRequest {
        request_id: a.mutation.id(),
        hold_id: a.hold.clone(),
        buyer_id: a.buyer.clone(),
        region: a.region.clone(),
        signals: a.signals.as_ref().map(|s| v1::BuyerSignals {
            account_age_days: s[0],
            membership_age_days: s[1],
            orders_last_year: s[2],
            days_since_last_activity: s[3],
        }),
        lines: lines(&a.lines)?,
        identity_keys: a.keys.clone(),
        join_waitlist: a.wait,
    })
}

/// A hold transition's request (each has its own message, with these two fields).
macro_rules! hold_request {
    ($message:ident, $args:expr) => {
        v1::$message { request_id: $args.mutation.id(), hold_id: $args.hold.clone() }
    };
}

/// A stock-figure request (receive, count, safety stock: one message each, the same fields).
macro_rules! figure_request {
    ($message:ident, $args:expr) => {
        v1::$message {
            request_id: $args.mutation.id(),
            item_id: $args.item.clone(),
            warehouse_id: $args.warehouse.clone(),
            units: $args.units,
            note: $args.note.clone(),
        }
    };
}

pub async fn run(client: &Client, out: Format, command: Command) -> Result<(), Failure> {
    use Command as C;
    match command {
        C::Reserve(a) => output::print(out, "HoldReply", &call!(client, inventory, reserve, reserve_request(&a)?)),
        C::Deduct(a) => output::print(out, "HoldReply", &call!(client, inventory, deduct, deduct_request(&a)?)),
        C::Confirm(a) => {
            output::print(out, "HoldReply", &call!(client, inventory, confirm, hold_request!(ConfirmRequest, a)))
        }
        C::Rehold(a) => {
            output::print(out, "HoldReply", &call!(client, inventory, rehold, hold_request!(ReholdRequest, a)))
        }
        C::Release(a) => {
            output::print(out, "HoldReply", &call!(client, inventory, release, hold_request!(ReleaseRequest, a)))
        }
        C::Cancel(a) => {
            output::print(out, "HoldReply", &call!(client, inventory, cancel, hold_request!(CancelRequest, a)))
        }
        C::Hold { hold, stale } => {
            let request = v1::GetHoldRequest { hold_id: hold, allow_stale: stale };
            output::print(out, "Hold", &call!(client, inventory, get_hold, request))
        }
        C::Availability { sku, stale } => {
            let request = v1::GetAvailabilityRequest { sku_id: sku, allow_stale: stale };
            output::print(out, "Availability", &call!(client, inventory, get_availability, request))
        }
        C::Watch { skus, count } => watch(client, out, skus, count).await?,
        C::Ship(a) => output::print(out, "Hold", &call!(client, catalog, ship, hold_request!(ShipRequest, a))),
        C::Warehouse(w) => warehouse(client, out, w).await?,
        C::Item(i) => item(client, out, i).await?,
        C::Sku(s) => sku(client, out, s).await?,
        C::Campaign(c) => campaign(client, out, c).await?,
        C::Waitlist(w) => waitlist(client, out, w).await?,
        C::Raffle(r) => raffle(client, out, r).await?,
        C::WatchHolds { holds, count } => watch_holds(client, out, holds, count).await?,
        C::Stock(s) => stock(client, out, s).await?,
        C::Inbound(i) => inbound(client, out, i).await?,
        C::Ledger(a) => {
            let op = match &a.op {
                None => 0,
                Some(name) => ledger_op(name)? as i32,
            };
            let query = v1::QueryLedgerRequest {
                item_id: a.item,
                warehouse_id: a.warehouse,
                hold_id: a.hold,
                op,
                from_ms: None,
                until_ms: None,
                from_seq: a.from_seq,
                limit: a.limit,
                allow_stale: a.stale,
            };
            if let Some(LedgerAction::Export { file }) = a.action {
                let rows = bulk::export(client, query, &file).await?;
                if file != "-" {
                    eprintln!("exported {rows} ledger entries to {file}");
                }
                return Ok(());
            }
            let page = call!(client, catalog, query_ledger, query);
            match out {
                Format::Json => output::print(out, "LedgerPage", &page),
                Format::Table => {
                    output::print(out, "LedgerPage", &v1::LedgerPage { entries: page.entries, next_seq: 0 });
                    output::emit(format!("next: --from-seq {}", page.next_seq));
                }
            }
        }
        C::Cluster(c) => cluster(client, out, c).await?,
        C::Endpoint(e) => endpoints::endpoint(client, out, e).await?,
        C::Member(m) => endpoints::member(client, out, m).await?,
        C::Snapshot(SnapshotCommand::Status { file }) => {
            let status = backup::status(&file).map_err(|e| Failure::Invalid(e.to_string()))?;
            let members: Vec<String> = status
                .members
                .iter()
                .map(|(id, address)| {
                    let kind = if status.voters.contains(id) { "voter" } else { "learner" };
                    format!("{id}={address} ({kind})")
                })
                .collect();
            match out {
                Format::Json => output::emit(serde_json::json!({
                    "file": file.display().to_string(),
                    "sizeBytes": status.bytes,
                    "logIndex": status.log_index,
                    "term": status.term,
                    "voterIds": status.voters,
                    "members": members,
                    "digest": format!("{:016x}", status.digest),
                    "clockMs": status.clock_ms,
                    "warehouses": status.warehouses,
                    "items": status.items,
                    "holds": status.holds,
                    "openHolds": status.open_holds,
                    "valid": true,
                })),
                Format::Table => {
                    let mut table = comfy_table::Table::new();
                    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
                    table.set_header(["field", "value"]);
                    for (field, value) in [
                        ("file", file.display().to_string()),
                        ("valid", "yes: header, checksum and ledger invariants checked".into()),
                        ("size", format!("{} bytes", status.bytes)),
                        ("log index", status.log_index.to_string()),
                        ("term", status.term.to_string()),
                        ("members", members.join(", ")),
                        ("digest", format!("{:016x}", status.digest)),
                        ("log time", format!("{} ms", status.clock_ms)),
                        ("warehouses", status.warehouses.to_string()),
                        ("items", status.items.to_string()),
                        ("holds", format!("{} ({} open)", status.holds, status.open_holds)),
                    ] {
                        table.add_row([field.to_string(), value]);
                    }
                    output::emit(table);
                }
            }
        }
        C::Snapshot(SnapshotCommand::Save { file }) => {
            let saved = backup::save(client, &file).await?;
            match out {
                Format::Json => output::print(out, "SnapshotInfo", &saved.info),
                Format::Table => output::emit(format!(
                    "saved {}: log index {} (term {}), {} bytes\nrestore: stockd --config NODE.toml --restore {}",
                    saved.path.display(),
                    saved.info.log_index,
                    saved.info.term,
                    saved.info.size_bytes,
                    saved.path.display()
                )),
            }
        }
        C::Import { kind, file, batch, delimiter, encoding } => {
            let dialect = bulk::Dialect { delimiter, encoding };
            let imported = bulk::import(client, kind, &file, dialect, batch).await?;
            output::emit(format!(
                "imported {} lines from {} in {} batches (log index {})",
                imported.lines,
                file.display(),
                imported.batches,
                imported.last_log_index
            ));
        }
        C::Completion { .. } | C::Man { .. } => unreachable!("answered in main, without a cluster"),
        C::Certs { dir, nodes, hosts } => {
            let written = certs::generate(&dir, nodes, &hosts)?;
            output::emit(format!("wrote {} into {}", written.join(" "), dir.display()));
        }
    }
    Ok(())
}

async fn watch(client: &Client, out: Format, skus: Vec<String>, count: Option<usize>) -> Result<(), Error> {
    let address = client.options().endpoints[0].clone();
    let mut inventory = stockraft_proto::v1::inventory_client::InventoryClient::new(client.channel_to(&address)?);
    let opened = inventory.watch_availability(v1::WatchAvailabilityRequest { sku_ids: skus }).await;
    follow(&address, out, "Availability", opened, count).await
}

async fn watch_holds(client: &Client, out: Format, holds: Vec<String>, count: Option<usize>) -> Result<(), Error> {
    let address = client.options().endpoints[0].clone();
    let mut inventory = stockraft_proto::v1::inventory_client::InventoryClient::new(client.channel_to(&address)?);
    let opened = inventory.watch_holds(v1::WatchHoldsRequest { hold_ids: holds }).await;
    follow(&address, out, "Hold", opened, count).await
}

/// Prints a watch's updates (messages called `name`) as lines, until `count` or its end.
async fn follow<M: prost::Message + Default>(
    address: &str,
    out: Format,
    name: &str,
    opened: Result<tonic::Response<tonic::Streaming<M>>, tonic::Status>,
    count: Option<usize>,
) -> Result<(), Error> {
    let mut stream = match opened {
        Ok(stream) => stream.into_inner(),
        Err(status) if status.code() == tonic::Code::Unavailable => {
            return Err(Error::Unavailable { attempts: 1, last: format!("{address}: {}", status.message()) });
        }
        Err(status) => return Err(Error::Rejected(status)),
    };
    let mut seen = 0;
    while let Some(update) = stream.next().await {
        let update = update.map_err(|status| Error::Unavailable { attempts: 1, last: status.message().to_string() })?;
        output::emit(output::line(out, name, &update));
        seen += 1;
        if count.is_some_and(|n| seen >= n) {
            break;
        }
    }
    Ok(())
}

async fn raffle(client: &Client, out: Format, command: RaffleCommand) -> Result<(), Failure> {
    use crate::raffle as seeds;
    let invalid = Failure::Invalid;
    match command {
        RaffleCommand::Seed { file } => {
            let committed = seeds::new_seed(&file).map_err(invalid)?;
            output::emit(format!("seed written to {}\nseed_sha256 {}", file.display(), hex::encode(committed)));
        }
        RaffleCommand::Create { sku, entries_open, entries_close, seed_file, seed_sha256, mutation } => {
            let committed = match (seed_file, seed_sha256) {
                (Some(file), _) => stockraft_core::raffle::commitment(&seeds::read_seed(&file).map_err(invalid)?),
                (None, Some(hex)) => seeds::sha256_hex(&hex).map_err(Error::Usage)?,
                (None, None) => unreachable!("clap requires one"),
            };
            let request = v1::CreateRaffleRequest {
                request_id: mutation.id(),
                sku_id: sku,
                entries_open_at_ms: entries_open,
                entries_close_at_ms: entries_close,
                seed_sha256: committed.to_vec(),
            };
            output::print(out, "Raffle", &call!(client, catalog, create_raffle, request));
        }
        RaffleCommand::Enter(a) => {
            if a.wait {
                return Err(
                    Error::Usage("--wait is for reserves: a raffle entry waits for the draw anyway".into()).into()
                );
            }
            let r = reserve_request(&a)?;
            let request = v1::EnterRaffleRequest {
                request_id: r.request_id,
                hold_id: r.hold_id,
                buyer_id: r.buyer_id,
                region: r.region,
                signals: r.signals,
                lines: r.lines,
                identity_keys: r.identity_keys,
            };
            output::print(out, "HoldReply", &call!(client, inventory, enter_raffle, request));
        }
        RaffleCommand::Draw { sku, seed_file, mutation } => {
            let seed = seeds::read_seed(&seed_file).map_err(invalid)?;
            let request = v1::DrawRaffleRequest { request_id: mutation.id(), sku_id: sku, seed };
            output::print(out, "Raffle", &call!(client, catalog, draw_raffle, request));
        }
        RaffleCommand::Show { sku } => {
            output::print(out, "Raffle", &call!(client, catalog, get_raffle, v1::GetRaffleRequest { sku_id: sku }));
        }
        RaffleCommand::Verify { sku, seed_file } => {
            let raffle = call!(client, catalog, get_raffle, v1::GetRaffleRequest { sku_id: sku.clone() });
            let local = seed_file.map(|file| seeds::read_seed(&file)).transpose().map_err(invalid)?;
            let entries = seeds::verify(&raffle, local.as_deref())
                .map_err(|e| Failure::Invalid(format!("the draw does not verify: {e}")))?;
            let draw = raffle.draw.as_ref().expect("verified draws exist");
            match out {
                Format::Json => output::emit(serde_json::json!({
                    "sku_id": sku,
                    "verified": true,
                    "entries": entries,
                    "seed": hex::encode(&draw.seed),
                    "seed_sha256": hex::encode(&raffle.seed_sha256),
                    "order": draw.order,
                })),
                Format::Table => output::emit(format!(
                    "verified: the seed {} hashes to the commitment {}, and ordering the {} entries by SHA-256(seed || 0x00 || order id) gives the published order (first: {})",
                    hex::encode(&draw.seed),
                    hex::encode(&raffle.seed_sha256),
                    entries,
                    draw.order.first().map_or("none", String::as_str)
                )),
            }
        }
    }
    Ok(())
}

async fn waitlist(client: &Client, out: Format, command: WaitlistCommand) -> Result<(), Error> {
    let set = |sku: String, length_max: u32, mutation: &Mutation| v1::SetWaitlistRequest {
        request_id: mutation.id(),
        sku_id: sku,
        length_max,
    };
    match command {
        WaitlistCommand::Open { sku, places, mutation } => {
            if places == 0 {
                return Err(Error::Usage("--places 0 would open nothing: `waitlist close` closes it".into()));
            }
            output::print(out, "Sku", &call!(client, catalog, set_waitlist, set(sku, places, &mutation)));
        }
        WaitlistCommand::Close { sku, mutation } => {
            output::print(out, "Sku", &call!(client, catalog, set_waitlist, set(sku, 0, &mutation)));
        }
        WaitlistCommand::Leave { sku, hold, mutation } => {
            let request = v1::LeaveWaitlistRequest { request_id: mutation.id(), sku_id: sku, hold_id: hold };
            output::print(out, "LeaveWaitlistReply", &call!(client, inventory, leave_waitlist, request));
        }
    }
    Ok(())
}

async fn warehouse(client: &Client, out: Format, command: WarehouseCommand) -> Result<(), Error> {
    match command {
        WarehouseCommand::Upsert { id, name, region, priority, inactive, mutation } => {
            let request = v1::UpsertWarehouseRequest {
                request_id: mutation.id(),
                warehouse: Some(v1::Warehouse { id, name, region, priority, active: Some(!inactive) }),
            };
            output::print(out, "Warehouse", &call!(client, catalog, upsert_warehouse, request));
        }
        WarehouseCommand::List(page) => output::print(
            out,
            "WarehouseList",
            &call!(client, catalog, list_warehouses, page_request!(ListWarehousesRequest, page)),
        ),
    }
    Ok(())
}

async fn item(client: &Client, out: Format, command: ItemCommand) -> Result<(), Error> {
    match command {
        ItemCommand::Upsert { id, name, mutation } => {
            let request = v1::UpsertItemRequest { request_id: mutation.id(), item: Some(v1::Item { id, name }) };
            output::print(out, "Item", &call!(client, catalog, upsert_item, request));
        }
        ItemCommand::List(page) => {
            output::print(out, "ItemList", &call!(client, catalog, list_items, page_request!(ListItemsRequest, page)))
        }
    }
    Ok(())
}

async fn sku(client: &Client, out: Format, command: SkuCommand) -> Result<(), Error> {
    match command {
        SkuCommand::Upsert {
            id,
            components: specs,
            mode,
            ttl_ms,
            units_per_buyer,
            open_holds_per_buyer,
            rehold_limit,
            rehold_grace_ms,
            allow_split,
            presale_units,
            mutation,
        } => {
            let mode = match mode {
                Mode::PreDeduct => v1::DeductionMode::PreDeduct,
                Mode::OnOrder => v1::DeductionMode::OnOrder,
                Mode::OnPayment => v1::DeductionMode::OnPayment,
            };
            let request = v1::UpsertSkuRequest {
                request_id: mutation.id(),
                sku_id: id,
                components: components(&specs)?,
                rules: Some(v1::SaleRules {
                    mode: mode as i32,
                    hold_ttl_ms: ttl_ms,
                    units_per_buyer_max: units_per_buyer,
                    open_holds_per_buyer_max: open_holds_per_buyer,
                    rehold_limit,
                    rehold_grace_ms,
                    allow_split,
                    presale_units_max: presale_units,
                    ..v1::SaleRules::default()
                }),
            };
            output::print(out, "Sku", &call!(client, catalog, upsert_sku, request));
        }
        SkuCommand::Get { id } => {
            output::print(out, "Sku", &call!(client, catalog, get_sku, v1::GetSkuRequest { sku_id: id }))
        }
        SkuCommand::List(page) => {
            output::print(out, "SkuList", &call!(client, catalog, list_skus, page_request!(ListSkusRequest, page)))
        }
        SkuCommand::Block { sku, buyer, mutation } => {
            let request = v1::BlockBuyerRequest { request_id: mutation.id(), sku_id: sku, buyer_id: buyer };
            output::print(out, "Sku", &call!(client, catalog, block_buyer, request));
        }
        SkuCommand::Unblock { sku, buyer, mutation } => {
            let request = v1::UnblockBuyerRequest { request_id: mutation.id(), sku_id: sku, buyer_id: buyer };
            output::print(out, "Sku", &call!(client, catalog, unblock_buyer, request));
        }
        SkuCommand::Window { sku, opens_at, closes_at, clear, mutation } => {
            let window = (!clear).then_some(v1::SaleWindow { opens_at_ms: opens_at, closes_at_ms: closes_at });
            let request = v1::SetSaleWindowRequest { request_id: mutation.id(), sku_id: sku, window };
            output::print(out, "Sku", &call!(client, catalog, set_sale_window, request));
        }
    }
    Ok(())
}

async fn campaign(client: &Client, out: Format, command: CampaignCommand) -> Result<(), Error> {
    match command {
        CampaignCommand::Upsert { id, skus, units_per_person, window, mutation } => {
            let campaign = v1::Campaign {
                campaign_id: id,
                sku_ids: skus,
                units_per_person_max: units_per_person,
                window_ms: window,
                ..v1::Campaign::default()
            };
            let request = v1::UpsertCampaignRequest { request_id: mutation.id(), campaign: Some(campaign) };
            output::print(out, "Campaign", &call!(client, catalog, upsert_campaign, request));
        }
        CampaignCommand::Get { id, buyer, identity_key } => {
            let request = v1::GetCampaignRequest {
                campaign_id: id,
                buyer_id: buyer.unwrap_or_default(),
                identity_key: identity_key.unwrap_or_default(),
            };
            output::print(out, "Campaign", &call!(client, catalog, get_campaign, request));
        }
        CampaignCommand::List => {
            output::print(out, "CampaignList", &call!(client, catalog, list_campaigns, v1::ListCampaignsRequest {}));
        }
    }
    Ok(())
}

async fn stock(client: &Client, out: Format, command: StockCommand) -> Result<(), Error> {
    let level = match command {
        StockCommand::Receive(a) => call!(client, catalog, receive_stock, figure_request!(ReceiveStockRequest, a)),
        StockCommand::Count(a) => call!(client, catalog, count_stock, figure_request!(CountStockRequest, a)),
        StockCommand::Safety(a) => call!(client, catalog, set_safety_stock, figure_request!(SetSafetyStockRequest, a)),
        StockCommand::Get { item, warehouse } => {
            call!(client, catalog, get_stock, v1::GetStockRequest { item_id: item, warehouse_id: warehouse })
        }
        StockCommand::Shortfalls(page) => {
            output::print(
                out,
                "StockLevelList",
                &call!(client, catalog, list_shortfalls, page_request!(ListShortfallsRequest, page)),
            );
            return Ok(());
        }
    };
    output::print(out, "StockLevel", &level);
    Ok(())
}

async fn inbound(client: &Client, out: Format, command: InboundCommand) -> Result<(), Error> {
    let level = match command {
        InboundCommand::Add { shipment, item, warehouse, units, eta_ms, mutation } => {
            let request = v1::AddInboundRequest {
                request_id: mutation.id(),
                shipment: Some(v1::InboundShipment {
                    shipment_id: shipment,
                    item_id: item,
                    warehouse_id: warehouse,
                    units,
                    expected_arrival_ms: eta_ms,
                }),
            };
            call!(client, catalog, add_inbound, request)
        }
        InboundCommand::Receive { shipment, units, note, mutation } => {
            let request = v1::ReceiveInboundRequest {
                request_id: mutation.id(),
                shipment_id: shipment,
                received_units: units,
                note,
            };
            call!(client, catalog, receive_inbound, request)
        }
        InboundCommand::Cancel { shipment, note, mutation } => {
            let request = v1::CancelInboundRequest { request_id: mutation.id(), shipment_id: shipment, note };
            call!(client, catalog, cancel_inbound, request)
        }
        InboundCommand::List(page) => {
            output::print(
                out,
                "InboundList",
                &call!(client, catalog, list_inbound, page_request!(ListInboundRequest, page)),
            );
            return Ok(());
        }
    };
    output::print(out, "StockLevel", &level);
    Ok(())
}

async fn cluster(client: &Client, out: Format, command: ClusterCommand) -> Result<(), Failure> {
    let status = match command {
        ClusterCommand::Status => return endpoints::cluster_status(client, out).await,
        ClusterCommand::AddLearner { node_id, address, no_wait } => {
            let wait = if no_wait { std::time::Duration::ZERO } else { LEARNER_WAIT };
            return endpoints::add_learner(client, out, node_id, address, wait).await;
        }
        ClusterCommand::ChangeMembership { voters, retain } => {
            let request = v1::ChangeMembershipRequest { voter_ids: voters, retain_as_learners: retain };
            call!(client, cluster, change_membership, request)
        }
        ClusterCommand::TransferLeader { node_id } => {
            call!(client, cluster, transfer_leader, v1::TransferLeaderRequest { to_node_id: node_id })
        }
        ClusterCommand::CheckState => return Ok(check_state(client, out).await?),
        ClusterCommand::LogFilter { filter } => return Ok(log_filter(client, out, filter).await?),
        ClusterCommand::Snapshot => {
            let address = client.options().endpoints[0].clone();
            let mut cluster = stockraft_proto::v1::cluster_client::ClusterClient::new(client.channel_to(&address)?);
            let info = cluster.trigger_snapshot(v1::TriggerSnapshotRequest {}).await.map_err(Error::Rejected)?;
            output::print(out, "SnapshotInfo", info.get_ref());
            return Ok(());
        }
    };
    match out {
        Format::Json => output::print(out, "ClusterStatus", &status),
        Format::Table => {
            let mut table = endpoints::status_table();
            // The row is the view of the node that made the change (the leader at the time).
            let address = status.members.iter().find(|m| m.node_id == status.node_id).map(|m| m.address.as_str());
            table.add_row(endpoints::status_row(address.unwrap_or("?"), &status));
            output::emit(table);
        }
    }
    Ok(())
}

/// How long `cluster add-learner` waits for the learner to catch up unless told not to.
const LEARNER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Shows or sets each endpoint's log filter (a per-node setting: every endpoint is asked).
async fn log_filter(client: &Client, out: Format, filter: Option<String>) -> Result<(), Error> {
    let mut table = comfy_table::Table::new();
    table.set_header(["endpoint", "node", "filter", "previous"]);
    for address in &client.options().endpoints {
        let mut cluster = stockraft_proto::v1::cluster_client::ClusterClient::new(client.channel_to(address)?);
        let request = v1::SetLogFilterRequest { filter: filter.clone().unwrap_or_default() };
        let answer = cluster.set_log_filter(request).await.map_err(Error::Rejected)?.into_inner();
        if out == Format::Json {
            output::print(out, "LogFilter", &answer);
            continue;
        }
        table.add_row([address.clone(), answer.node_id.to_string(), answer.filter, answer.previous]);
    }
    if out == Format::Table {
        output::emit(table);
    }
    Ok(())
}

async fn check_state(client: &Client, out: Format) -> Result<(), Error> {
    let mut table = comfy_table::Table::new();
    table.set_header(["endpoint", "node", "applied", "digest", "invariants", "holds", "open holds"]);
    let mut failed = None;
    for address in &client.options().endpoints {
        let mut cluster = stockraft_proto::v1::cluster_client::ClusterClient::new(client.channel_to(address)?);
        let check = match cluster.check_state(v1::CheckStateRequest {}).await {
            Ok(reply) => reply.into_inner(),
            Err(status) => {
                table.add_row([address.clone(), "-".into(), "-".into(), status.message().into()]);
                failed = Some(Error::Unavailable { attempts: 1, last: format!("{address}: {}", status.message()) });
                continue;
            }
        };
        if out == Format::Json {
            output::print(out, "StateCheck", &check);
            continue;
        }
        let invariants =
            if check.invariant_violation.is_empty() { "ok".to_string() } else { check.invariant_violation.clone() };
        table.add_row([
            address.clone(),
            check.node_id.to_string(),
            check.applied_log_index.to_string(),
            format!("{:016x}", check.digest),
            invariants,
            check.holds.to_string(),
            check.open_holds.to_string(),
        ]);
    }
    if out == Format::Table {
        output::emit(table);
    }
    failed.map_or(Ok(()), Err)
}

/// A ledger op by name, with or without its `LEDGER_OP_` prefix, in any case: `reserve`,
/// `RESERVE`, `LEDGER_OP_RESERVE`.
fn ledger_op(name: &str) -> Result<v1::LedgerOp, Error> {
    let upper = name.to_ascii_uppercase();
    let prefixed = if upper.starts_with("LEDGER_OP_") { upper } else { format!("LEDGER_OP_{upper}") };
    v1::LedgerOp::from_str_name(&prefixed)
        .filter(|op| *op != v1::LedgerOp::Unspecified)
        .ok_or_else(|| Error::Usage(format!("unknown ledger op {name:?} (e.g. reserve, expire)")))
}
