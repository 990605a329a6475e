//! Bulk work: `stockctl import KIND FILE` loads warehouses, items, SKUs or stock counts from a
//! CSV file, and `stockctl ledger export FILE` writes the audit ledger to one.
//!
//! Import checks every line before sending anything and reports every bad line with its
//! number; a file with a bad line changes nothing. Good files go in batches of up to 500 lines,
//! each one `Catalog.Import` call that the ledger applies whole or not at all: if it refuses a
//! line (say, a SKU naming an item that does not exist), that batch changes nothing, the
//! batches before it stay applied, and the error names the line. Re-running a fixed file is
//! safe: upserts and stock counts set values, they do not add to them.
//!
//! ERP exports come in their own dialects: `--delimiter` (`;` or `tab` beside `,`) and
//! `--encoding` (UTF-8 with or without a byte-order mark by default; GBK, GB18030, Shift_JIS,
//! Big5, EUC-KR, Windows-1252 and every other WHATWG encoding by label, through encoding_rs).
//! A file that does not decode is refused with its line and the flag to try.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use stockraft_client::{Client, Error, new_request_id, v1};
use stockraft_proto::errors::{code_for, status_with_detail};

/// Lines per `Catalog.Import` call (the ledger's all-or-nothing batch limit).
pub const BATCH_LINES_MAX: usize = 500;
/// Bad lines reported before the rest are only counted.
const ERRORS_SHOWN_MAX: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// id,name,region,priority,active
    Warehouses,
    /// id,name
    Items,
    /// id,components,mode,hold_ttl_ms,units_per_buyer_max,open_holds_per_buyer_max,allow_split,
    /// rehold_limit,rehold_grace_ms,presale_units_max,risk_rules (components: ITEM:QTY;ITEM:QTY;
    /// risk_rules: `account_age_days<30=>reject; =>allow`; only id and components are required)
    Skus,
    /// item,warehouse,units,note: a physical count (on hand becomes units)
    Stock,
}

impl Kind {
    fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Kind::Warehouses => (&["id", "name"], &["region", "priority", "active"]),
            Kind::Items => (&["id", "name"], &[]),
            Kind::Skus => (
                &["id", "components"],
                &[
                    "mode",
                    "hold_ttl_ms",
                    "units_per_buyer_max",
                    "open_holds_per_buyer_max",
                    "allow_split",
                    "rehold_limit",
                    "rehold_grace_ms",
                    "presale_units_max",
                    "risk_rules",
                ],
            ),
            Kind::Stock => (&["item", "warehouse", "units"], &["note"]),
        }
    }
}

/// One CSV record, its fields by column name.
struct Line<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl Line<'_> {
    fn get(&self, column: &str) -> &str {
        self.columns.get(column).and_then(|&at| self.record.get(at)).unwrap_or("").trim()
    }

    fn required(&self, column: &str) -> Result<String, String> {
        match self.get(column) {
            "" => Err(format!("{column} is empty")),
            value => Ok(value.to_string()),
        }
    }

    fn number<T: std::str::FromStr>(&self, column: &str, default: T) -> Result<T, String> {
        match self.get(column) {
            "" => Ok(default),
            text => text.parse().map_err(|_| format!("{column} {text:?} is not a whole number in range")),
        }
    }

    fn optional<T: std::str::FromStr>(&self, column: &str) -> Result<Option<T>, String> {
        match self.get(column) {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| format!("{column} {text:?} is not a whole number in range")),
        }
    }

    fn flag(&self, column: &str, default: bool) -> Result<bool, String> {
        match self.get(column).to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            other => Err(format!("{column} {other:?} is not true or false")),
        }
    }
}

fn op(kind: Kind, line: &Line<'_>) -> Result<v1::import_op::Op, String> {
    use v1::import_op::Op;
    let request_id = new_request_id();
    Ok(match kind {
        Kind::Warehouses => Op::Warehouse(v1::UpsertWarehouseRequest {
            request_id,
            warehouse: Some(v1::Warehouse {
                id: line.required("id")?,
                name: line.required("name")?,
                region: line.get("region").to_string(),
                priority: line.number("priority", 0)?,
                active: Some(line.flag("active", true)?),
            }),
        }),
        Kind::Items => Op::Item(v1::UpsertItemRequest {
            request_id,
            item: Some(v1::Item { id: line.required("id")?, name: line.required("name")? }),
        }),
        Kind::Skus => {
            let components = line
                .required("components")?
                .split(';')
                .map(|part| {
                    let (item, quantity) = part.trim().split_once(':').unwrap_or((part.trim(), "1"));
                    let quantity = quantity
                        .trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|q| *q > 0)
                        .ok_or_else(|| format!("components: {part:?} is not ITEM:QUANTITY"))?;
                    if item.is_empty() {
                        return Err(format!("components: {part:?} names no item"));
                    }
                    Ok(v1::Component { item_id: item.to_string(), quantity })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let mode = match line.get("mode").to_ascii_lowercase().replace('_', "-").as_str() {
                "" | "pre-deduct" => v1::DeductionMode::PreDeduct,
                "on-order" => v1::DeductionMode::OnOrder,
                "on-payment" => v1::DeductionMode::OnPayment,
                other => return Err(format!("mode {other:?} is not pre-deduct, on-order or on-payment")),
            };
            Op::Sku(v1::UpsertSkuRequest {
                request_id,
                sku_id: line.required("id")?,
                components,
                rules: Some(v1::SaleRules {
                    mode: mode as i32,
                    hold_ttl_ms: line.number("hold_ttl_ms", 0)?,
                    units_per_buyer_max: line.optional("units_per_buyer_max")?,
                    open_holds_per_buyer_max: line.optional("open_holds_per_buyer_max")?,
                    allow_split: line.flag("allow_split", false)?,
                    rehold_limit: line.optional("rehold_limit")?,
                    rehold_grace_ms: line.optional("rehold_grace_ms")?,
                    presale_units_max: line.number("presale_units_max", 0)?,
                    risk_rules: crate::risk_rules::parse(line.get("risk_rules"))?,
                }),
            })
        }
        Kind::Stock => {
            let units: i64 = line.number("units", -1)?;
            if units < 0 {
                return Err(format!("units {:?} is not a whole number of 0 or more", line.get("units")));
            }
            Op::CountStock(v1::CountStockRequest {
                request_id,
                item_id: line.required("item")?,
                warehouse_id: line.required("warehouse")?,
                units,
                note: match line.get("note") {
                    "" => "stockctl import".to_string(),
                    note => note.to_string(),
                },
            })
        }
    })
}

/// How a file is written: its separator and its text encoding.
#[derive(Clone, Copy, Debug)]
pub struct Dialect {
    pub delimiter: u8,
    pub encoding: &'static encoding_rs::Encoding,
}

impl Default for Dialect {
    fn default() -> Dialect {
        Dialect { delimiter: b',', encoding: encoding_rs::UTF_8 }
    }
}

/// `--delimiter`: one ASCII character, or `tab`.
pub fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() && !text.starts_with(['"', '\n', '\r']) => Ok(text.as_bytes()[0]),
        _ => Err(format!("{text:?} is not one ASCII character (or tab)")),
    }
}

/// `--encoding`: a WHATWG label (utf-8, gbk, gb18030, shift_jis, big5, windows-1252, ...).
pub fn encoding(label: &str) -> Result<&'static encoding_rs::Encoding, String> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| format!("unknown encoding {label:?} (try utf-8, gbk, gb18030, shift_jis, big5)"))
}

/// The line (1-based) that byte `at` of `bytes` is on.
fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The file's text in `encoding`, its byte-order mark (of any UTF) removed; or where it stops
/// decoding, with the flag to try.
fn decode(bytes: &[u8], encoding: &'static encoding_rs::Encoding, name: &str) -> Result<String, String> {
    if encoding == encoding_rs::UTF_8 {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        return match std::str::from_utf8(body) {
            Ok(text) => Ok(text.to_string()),
            Err(e) => Err(format!(
                "{name}:{}: not UTF-8 (byte {}); an ERP export from a Chinese system is usually GBK: \
                 pass --encoding gbk (or gb18030, shift_jis, big5)",
                line_of(body, e.valid_up_to()),
                e.valid_up_to() + 1
            )),
        };
    }
    let (text, used, had_errors) = encoding.decode(bytes);
    if had_errors {
        let at = text.find('\u{FFFD}').map_or(0, |c| text[..c].matches('\n').count() + 1);
        return Err(format!("{name}:{at}: not valid {}: check --encoding", used.name()));
    }
    Ok(text.into_owned())
}

/// Reads and checks the whole file: its operations with their line numbers, or every bad line.
pub fn parse(kind: Kind, path: &Path, dialect: Dialect) -> Result<Vec<(u64, v1::ImportOp)>, Vec<String>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| vec![format!("{name}: {e}")])?;
    let text = decode(&bytes, dialect.encoding, &name).map_err(|e| vec![e])?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .delimiter(dialect.delimiter)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| vec![format!("{name}:1: {e}")])?.clone();
    let columns: HashMap<String, usize> =
        headers.iter().enumerate().map(|(at, h)| (h.trim().to_ascii_lowercase(), at)).collect();
    let (required, optional) = kind.columns();
    if let [only] = headers.iter().collect::<Vec<_>>().as_slice() {
        for (separator, flag) in [(';', "';'"), ('\t', "tab"), ('|', "'|'")] {
            if only.contains(separator) && dialect.delimiter != separator as u8 {
                return Err(vec![format!("{name}:1: the header is one column {only:?}: pass --delimiter {flag}")]);
            }
        }
    }
    let mut errors: Vec<String> = Vec::new();
    for column in required {
        if !columns.contains_key(*column) {
            errors.push(format!("{name}:1: the header has no {column:?} column (needs {})", required.join(",")));
        }
    }
    for column in columns.keys() {
        if !required.contains(&column.as_str()) && !optional.contains(&column.as_str()) {
            errors.push(format!(
                "{name}:1: unknown column {column:?} (columns: {})",
                [required, optional].concat().join(",")
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut ops = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(format!("{name}:{line}: {e}"));
                continue;
            }
        };
        let number = record.position().map_or(0, |p| p.line());
        match op(kind, &Line { record: &record, columns: &columns }) {
            Ok(op) => ops.push((number, v1::ImportOp { op: Some(op) })),
            Err(message) => errors.push(format!("{name}:{number}: {message}")),
        }
    }
    if ops.is_empty() && errors.is_empty() {
        errors.push(format!("{name}: no lines to import"));
    }
    if errors.is_empty() { Ok(ops) } else { Err(errors) }
}

/// What an import did.
pub struct Imported {
    pub lines: usize,
    pub batches: usize,
    pub last_log_index: u64,
}

/// Checks `path` whole, then imports it batch by batch.
pub async fn import(
    client: &Client,
    kind: Kind,
    path: &Path,
    dialect: Dialect,
    batch_lines: usize,
) -> Result<Imported, Error> {
    if batch_lines == 0 || batch_lines > BATCH_LINES_MAX {
        return Err(Error::Usage(format!("--batch must be 1 to {BATCH_LINES_MAX}")));
    }
    let ops = parse(kind, path, dialect).map_err(|errors| {
        let mut report: Vec<String> = errors.iter().take(ERRORS_SHOWN_MAX).cloned().collect();
        if errors.len() > ERRORS_SHOWN_MAX {
            report.push(format!("... and {} more", errors.len() - ERRORS_SHOWN_MAX));
        }
        report.push(format!("{} bad line(s); nothing was imported", errors.len()));
        Error::Usage(report.join("\n"))
    })?;
    let progress = ProgressBar::with_draw_target(Some(ops.len() as u64), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} lines {per_sec} eta {eta}").expect("a valid template"),
    );
    let mut imported = Imported { lines: 0, batches: 0, last_log_index: 0 };
    for batch in ops.chunks(batch_lines) {
        let lines: Vec<u64> = batch.iter().map(|(line, _)| *line).collect();
        let (first, last) = (lines[0], lines[lines.len() - 1]);
        let request = v1::ImportRequest { ops: batch.iter().map(|(_, op)| op.clone()).collect() };
        let reply = stockraft_client::call!(client, catalog, import, request).map_err(|e| {
            progress.abandon();
            match e {
                // The same refusal (its code and detail, so its reason), with where it happened.
                Error::Rejected(status) => {
                    let mut detail = stockraft_client::error_detail(&status).unwrap_or_default();
                    detail.message = format!(
                        "{}: lines {first}-{last}: {}; none of them was imported",
                        path.display(),
                        status.message()
                    );
                    Error::Rejected(status_with_detail(status.code(), detail))
                }
                other => other,
            }
        })?;
        if !reply.applied {
            progress.abandon();
            let line = lines.get(reply.refused_op as usize).copied().unwrap_or(first);
            let mut detail = reply.refusal.unwrap_or_default();
            detail.message = format!(
                "{}:{line}: {}; lines {first}-{last} were not imported{}",
                path.display(),
                detail.message,
                if imported.lines > 0 {
                    format!(" (the {} lines before them were)", imported.lines)
                } else {
                    String::new()
                }
            );
            // The code a unary call would have got for this refusal's reason.
            let reason = v1::Reason::try_from(detail.reason).unwrap_or(v1::Reason::Unspecified);
            return Err(Error::Rejected(status_with_detail(code_for(reason), detail)));
        }
        imported.lines += batch.len();
        imported.batches += 1;
        imported.last_log_index = reply.log_index;
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();
    Ok(imported)
}

const LEDGER_PAGE: u32 = 10_000;

/// Writes the audit ledger entries matching `query` to `path` (`-`: standard output) as CSV, in
/// sequence order; returns how many. Each page is a linearizable read (unless `allow_stale`).
pub async fn export(client: &Client, mut query: v1::QueryLedgerRequest, path: &str) -> Result<u64, Error> {
    let sink: Box<dyn Write> = if path == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(path).map_err(|e| Error::Usage(format!("{path}: {e}")))?)
    };
    let mut writer = csv::Writer::from_writer(sink);
    let failed = |e: csv::Error| Error::Usage(format!("{path}: {e}"));
    writer
        .write_record([
            "seq",
            "log_index",
            "at_ms",
            "op",
            "item",
            "warehouse",
            "on_hand_delta",
            "safety_stock_delta",
            "held_delta",
            "committed_delta",
            "in_transit_delta",
            "shortfall_after",
            "hold",
            "note",
        ])
        .map_err(failed)?;
    let progress = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template("{spinner} {pos} entries {per_sec}").expect("a valid template"));
    query.limit = LEDGER_PAGE;
    let asked_from = query.from_seq.max(1);
    let mut rows = 0u64;
    loop {
        let page = stockraft_client::call!(client, catalog, query_ledger, query.clone())?;
        if rows == 0
            && let Some(first) = page.entries.first()
            && first.seq > asked_from
            && query.item_id.is_empty()
            && query.warehouse_id.is_empty()
            && query.hold_id.is_empty()
            && query.op == 0
        {
            eprintln!("stockctl: entries {asked_from} to {} are no longer retained by the cluster", first.seq - 1);
        }
        if page.entries.is_empty() {
            break;
        }
        for e in &page.entries {
            // The op's name without its LEDGER_OP_ prefix (RESERVE), as spreadsheets have had it.
            let op =
                v1::LedgerOp::try_from(e.op).map_or("UNKNOWN", |op| op.as_str_name().trim_start_matches("LEDGER_OP_"));
            writer
                .write_record([
                    e.seq.to_string(),
                    e.log_index.to_string(),
                    e.at_ms.to_string(),
                    op.to_string(),
                    e.item_id.clone(),
                    e.warehouse_id.clone(),
                    e.on_hand_delta.to_string(),
                    e.safety_stock_delta.to_string(),
                    e.held_delta.to_string(),
                    e.committed_delta.to_string(),
                    e.in_transit_delta.to_string(),
                    e.shortfall_after.to_string(),
                    e.hold_id.clone(),
                    e.note.clone(),
                ])
                .map_err(failed)?;
        }
        rows += page.entries.len() as u64;
        progress.set_position(rows);
        if page.next_seq <= query.from_seq {
            break;
        }
        query.from_seq = page.next_seq;
    }
    writer.flush().map_err(|e| Error::Usage(format!("{path}: {e}")))?;
    progress.finish_and_clear();
    Ok(rows)
}
