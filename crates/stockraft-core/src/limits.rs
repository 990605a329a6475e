//! Every limit the ledger enforces, in one place, with the reason for its value.
//!
//! Limits that change what a command does are part of the replicated behaviour: every replica
//! must use the same numbers, so they are constants compiled into the binary, never read from a
//! node's local configuration.

/// Longest id (warehouse, item, SKU, buyer, hold, request, shipment), in bytes. Order ids and
/// UUIDs fit; anything longer is almost certainly a client bug, and short ids keep a hold small.
pub const ID_LEN_MAX: usize = 64;

/// Longest display name or region, in bytes.
pub const NAME_LEN_MAX: usize = 128;

/// Longest free-text note on a stock movement (an ERP document number, a count reference).
pub const NOTE_LEN_MAX: usize = 256;

/// Most warehouses in one cluster. Stock levels are stored densely per item by warehouse, so
/// this bounds the memory of each item; real networks have tens of warehouses, not thousands.
pub const WAREHOUSES_MAX: usize = 1_024;

/// Most items (back-end goods) in one cluster.
pub const ITEMS_MAX: usize = 1_000_000;

/// Most SKUs (storefront listings) in one cluster.
pub const SKUS_MAX: usize = 1_000_000;

/// Most components in a bundle SKU (a gift box of a few different items).
pub const SKU_COMPONENTS_MAX: usize = 8;

/// Most units of one item inside one unit of a bundle SKU.
pub const COMPONENT_QUANTITY_MAX: u32 = 1_000;

/// Most lines in one reserve or deduct: a shopping cart, not a warehouse order.
pub const RESERVE_LINES_MAX: usize = 16;

/// Most units of one SKU in one line. Flash sales sell a handful per buyer; this stops a typo
/// (an order of 10^9 units) from reaching allocation arithmetic.
pub const LINE_QUANTITY_MAX: u32 = 10_000;

/// Most reserves in one batch command: large enough to amortise one Raft entry, small enough
/// that one apply stays well under a millisecond.
pub const RESERVE_BATCH_MAX: usize = 1_024;

/// Most requests in one all-or-nothing import batch. Each batch is checked on a copy of the
/// catalog first (so a refusal changes nothing): a copy per batch, so batches stay modest.
pub const IMPORT_BATCH_MAX: usize = 500;

/// Most buyer-risk rules on one SKU. Rules are evaluated in order on every reserve.
pub const RISK_RULES_MAX: usize = 16;

/// Most blocked buyers on one SKU.
pub const BLOCKLIST_MAX: usize = 100_000;

/// Largest stock quantity for one (item, warehouse) figure (on hand, safety stock, a receipt,
/// a shipment). Keeps every sum of quantities far from `u32`/`i64` overflow.
pub const STOCK_QUANTITY_MAX: u32 = 1_000_000_000;

/// Shortest and longest hold TTL a SKU may set. Under a second cannot survive a leader
/// election; over a week is not a hold but a sale, and should use `ON_ORDER`.
pub const HOLD_TTL_MS_MIN: u64 = 1_000;
pub const HOLD_TTL_MS_MAX: u64 = 7 * 24 * 3_600_000;

/// The longest re-hold grace window a SKU may set (after a hold's expiry).
pub const REHOLD_GRACE_MS_MAX: u64 = 24 * 3_600_000;

/// The latest time a sale window may name: 9999-12-31, in ms since the Unix epoch. Beyond it a
/// figure is a unit mistake (microseconds, nanoseconds) rather than a date.
pub const SALE_WINDOW_MS_MAX: u64 = 253_402_300_799_999;

/// Most identity keys on one reserve or deduct: a device, a phone, a shipping address, a
/// payment instrument. Each key is one more cap lookup per line and one more tracked entry per
/// hold, so a request carries the few that identify a person, not everything the platform has.
pub const IDENTITY_KEYS_PER_REQUEST_MAX: usize = 4;

/// Most campaigns in one cluster. Campaigns are a back-office object (a season's release of a
/// brand), not a per-sale one; the bound keeps every campaign's bookkeeping affordable at once.
pub const CAMPAIGNS_MAX: usize = 256;

/// Most SKUs in one campaign: a brand's listings across sizes, years and gift boxes.
pub const CAMPAIGN_SKUS_MAX: usize = 64;

/// Most campaigns one SKU belongs to. Every reserve line checks each of its SKU's campaigns for
/// the buyer and each identity key, so this bounds a reserve's cap lookups.
pub const CAMPAIGNS_PER_SKU_MAX: usize = 4;

/// Most people (buyer ids and identity keys) one campaign tracks at once. A person is tracked
/// while something they took counts against the campaign's cap: for the campaign's life, or
/// until its rolling window passes. At about 120 bytes a person (the id, one counted hold, the
/// ageing queue's entry) this caps a campaign near 240 MiB; when it is full, a reserve that
/// would add a new person is refused with RESOURCE_EXHAUSTED rather than let the cap go
/// uncounted.
pub const CAMPAIGN_PEOPLE_MAX: usize = 2_000_000;

/// The shortest rolling window a campaign's cap may count over: a minute. Anything shorter is a
/// rate limit, which the API's edge (not the ledger) is for.
pub const CAMPAIGN_WINDOW_MS_MIN: u64 = 60_000;

/// The longest rolling window a campaign's cap may count over: a year. "Two bottles per person
/// per 30 days" is the common case; a campaign without a window counts for as long as it exists.
pub const CAMPAIGN_WINDOW_MS_MAX: u64 = 366 * 24 * 3_600_000;

/// Most places on one SKU's waitlist. A place is about 200 bytes (the order id, the buyer, the
/// keys, the indexes that find it by hold and by person), so a full list is 20 MiB; a release
/// with more waiting buyers than this has more than it can ever sell them.
pub const WAITLIST_LENGTH_MAX: usize = 100_000;

/// Most places one command passes over when units come back, per SKU. The list is served
/// first-fit in order (a place that asks more than is free, or whose buyer is over a cap now,
/// is passed over and keeps its place), so one apply stays bounded however long the list is.
pub const WAITLIST_SERVE_SCAN_MAX: usize = 64;

/// Most holds one command grants to waiting buyers (a raffle's draw, a large receipt). A grant
/// costs about as much as a reserve, so this keeps one apply near the cost of an `Expire`; what
/// is left is granted by the next `Expire`, which is then due at once.
pub const WAITLIST_GRANTS_PER_COMMAND_MAX: usize = EXPIRE_BATCH_MAX;

/// Most entries in one raffle. Every entry is drawn and kept until the raffle is replaced (for
/// anyone to verify the draw), at about 200 bytes each; and the whole list is one GetRaffle
/// reply, which must stay under a node's default message limit (4 MiB).
pub const RAFFLE_ENTRIES_MAX: usize = 10_000;

/// Shortest and longest raffle seed, in bytes. The seed's SHA-256 is published before the
/// entries: a short seed could be found from it by trying every value, and whoever found it
/// could choose order ids that draw first. 16 random bytes cannot be searched; 32 is the advice.
pub const RAFFLE_SEED_LEN_MIN: usize = 16;
pub const RAFFLE_SEED_LEN_MAX: usize = 64;

/// Most re-holds one hold may take.
pub const REHOLD_LIMIT_MAX: u32 = 10;

/// How long a request id is remembered for idempotent retries, measured in log time.
/// Clients retry within seconds or minutes; a day covers any sane retry policy. A retried
/// reserve older than this still cannot be applied twice: its hold id is already taken.
pub const IDEMPOTENCY_WINDOW_MS: u64 = 24 * 3_600_000;

/// Most request ids remembered at once; the oldest is forgotten first. At roughly 100 bytes
/// each this caps the table near 100 MiB, however hard a sale is hammered.
pub const IDEMPOTENCY_ENTRIES_MAX: usize = 1_000_000;

/// How long a hold that reached a final state (released, expired, cancelled, shipped) is kept
/// for `GetHold`, audits and duplicate detection, measured in log time after it closed.
pub const CLOSED_HOLD_RETENTION_MS: u64 = 7 * 24 * 3_600_000;

/// Most holds one `Expire` command expires or prunes. A backlog after a long pause is worked
/// off in several commands rather than one multi-second apply that stalls every write.
pub const EXPIRE_BATCH_MAX: usize = 10_000;

/// Audit-ledger entries kept in the state machine; the oldest is dropped first. This tail is
/// all the ledger keeps (the full audit ledger on disk is not built yet): it serves recent
/// queries and bounds snapshot size.
pub const LEDGER_RETENTION_ENTRIES: usize = 200_000;

/// Most ledger entries one query returns.
pub const LEDGER_QUERY_MAX: usize = 10_000;
