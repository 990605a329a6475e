//! Printing replies: human tables by default, protobuf's canonical JSON with `--output json`.
//! Both are driven by the messages' descriptors, so every reply prints with its field names and
//! enum names, and a new field appears without code here.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, SerializeOptions, Value};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(stockraft_client::FILE_DESCRIPTOR_SET).expect("the API's descriptors decode")
    })
}

/// The reply as a dynamic message (`name` is the message's name in `stockraft.v1`).
pub fn dynamic(name: &str, message: &impl Message) -> DynamicMessage {
    let descriptor =
        pool().get_message_by_name(&format!("stockraft.v1.{name}")).unwrap_or_else(|| panic!("no message {name}"));
    DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).expect("a reply re-decodes")
}

pub fn json(message: &DynamicMessage, pretty: bool) -> String {
    let options = SerializeOptions::new().skip_default_fields(false).stringify_64_bit_integers(false);
    let mut out = Vec::new();
    if pretty {
        let mut serializer = serde_json::Serializer::pretty(&mut out);
        message.serialize_with_options(&mut serializer, &options).expect("JSON encodes");
    } else {
        let mut serializer = serde_json::Serializer::new(&mut out);
        message.serialize_with_options(&mut serializer, &options).expect("JSON encodes");
    }
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Writes a line to stdout. A closed pipe (`stockctl ... | head`) ends the program quietly
/// instead of panicking.
pub fn emit(text: impl std::fmt::Display) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout(), "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("stockctl: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// Prints a reply in the chosen format.
pub fn print(format: Format, name: &str, message: &impl Message) {
    let message = dynamic(name, message);
    match format {
        Format::Json => emit(json(&message, true)),
        Format::Table => emit(table(&message)),
    }
}

/// A list reply (one repeated message field) becomes rows; anything else a field/value table.
fn table(message: &DynamicMessage) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    let fields: Vec<_> = message.descriptor().fields().collect();
    if let [only] = fields.as_slice()
        && only.is_list()
        && let Some(kind) = only.kind().as_message().cloned()
    {
        let columns: Vec<_> = kind.fields().collect();
        table.set_header(columns.iter().map(|f| f.name().to_string()));
        if let Value::List(rows) = &*message.get_field(only) {
            for row in rows {
                if let Value::Message(row) = row {
                    table.add_row(columns.iter().map(|f| cell(&row.get_field(f), f)));
                }
            }
        }
        return table;
    }
    table.set_header(["field", "value"]);
    for field in fields {
        if field.supports_presence() && !message.has_field(&field) {
            continue;
        }
        table.add_row([field.name().to_string(), cell(&message.get_field(&field), &field)]);
    }
    table
}

/// An enum value's name without its enum's prefix (`HELD` for `HOLD_STATE_HELD`): tables are for
/// people; JSON keeps the full names, as protobuf's JSON mapping does.
fn short_name<'a>(enumeration: &str, value: &'a str) -> &'a str {
    let mut prefix = String::new();
    for (i, c) in enumeration.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            prefix.push('_');
        }
        prefix.push(c.to_ascii_uppercase());
    }
    prefix.push('_');
    value.strip_prefix(prefix.as_str()).unwrap_or(value)
}

/// One value, compactly: enums by name, nested messages as one-line JSON.
fn cell(value: &Value, field: &prost_reflect::FieldDescriptor) -> String {
    match value {
        Value::EnumNumber(n) => match field.kind().as_enum().and_then(|e| e.get_value(*n).map(|v| (e, v))) {
            Some((enumeration, value)) => short_name(enumeration.name(), value.name()).to_string(),
            None => n.to_string(),
        },
        Value::Message(m) => json(m, false),
        Value::List(items) => items.iter().map(|item| cell(item, field)).collect::<Vec<_>>().join(", "),
        Value::String(s) => s.clone(),
        // Hashes and seeds: hex, as sha256sum prints them (JSON keeps protobuf's base64).
        Value::Bytes(bytes) => hex::encode(bytes),
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// One line per update (for watches): JSON lines or a compact text line.
pub fn line(format: Format, name: &str, message: &impl Message) -> String {
    let message = dynamic(name, message);
    match format {
        Format::Json => json(&message, false),
        Format::Table => message
            .descriptor()
            .fields()
            .map(|f| format!("{}={}", f.name(), cell(&message.get_field(&f), &f)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}
