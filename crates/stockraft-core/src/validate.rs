//! Checks on a request's shape that need no state: sizes, quantities, duplicates. A request that
//! fails here is an input error: it changes nothing, not even the idempotency table.

use crate::command::*;
use crate::error::Rejection;
use crate::ids::IdentityKey;
use crate::limits::*;
use std::collections::BTreeSet;

pub fn validate_op(op: &Op) -> Result<(), Rejection> {
    match op {
        Op::UpsertWarehouse(upsert) => {
            text("warehouse name", &upsert.name, NAME_LEN_MAX)?;
            text("warehouse region", &upsert.region, NAME_LEN_MAX)
        }
        Op::UpsertItem(upsert) => text("item name", &upsert.name, NAME_LEN_MAX),
        Op::UpsertSku(upsert) => validate_sku(upsert),
        Op::BlockBuyer { .. } | Op::UnblockBuyer { .. } => Ok(()),
        Op::SetSafetyStock(figure) | Op::CountStock(figure) => {
            text("note", &figure.note, NOTE_LEN_MAX)?;
            stock_units(figure.units, true)
        }
        Op::ReceiveStock(figure) => {
            text("note", &figure.note, NOTE_LEN_MAX)?;
            stock_units(figure.units, false)
        }
        Op::AddInbound(inbound) => stock_units(inbound.units, false),
        Op::ReceiveInbound { received_units, note, .. } => {
            text("note", note, NOTE_LEN_MAX)?;
            stock_units(*received_units, true)
        }
        Op::CancelInbound { note, .. } => text("note", note, NOTE_LEN_MAX),
        Op::Reserve(reserve) | Op::Deduct(reserve) => validate_reserve(reserve),
        Op::ReserveKeyed(keyed) | Op::DeductKeyed(keyed) => {
            validate_reserve(&keyed.reserve)?;
            validate_keys(&keyed.keys)
        }
        Op::UpsertCampaign(upsert) => validate_campaign(upsert),
        Op::ReserveOrWait(waiting) | Op::EnterRaffle(waiting) => {
            validate_reserve(&waiting.reserve)?;
            if waiting.reserve.lines.len() != 1 {
                return Err(Rejection::invalid(
                    "a reserve that may wait, or a raffle entry, has exactly one line: a waitlist or raffle is one SKU's",
                ));
            }
            match waiting.keys.is_empty() {
                true => Ok(()),
                false => validate_keys(&waiting.keys),
            }
        }
        Op::SetWaitlist { length_max, .. } => {
            if *length_max as usize > WAITLIST_LENGTH_MAX {
                return Err(Rejection::invalid(format!(
                    "a waitlist of {length_max} places; the most is {WAITLIST_LENGTH_MAX}"
                )));
            }
            Ok(())
        }
        Op::LeaveWaitlist { .. } => Ok(()),
        Op::CreateRaffle(raffle) => {
            let window = crate::window::SaleWindow {
                opens_at_ms: Some(raffle.entries_open_at_ms),
                closes_at_ms: Some(raffle.entries_close_at_ms),
            };
            window.validate()
        }
        Op::DrawRaffle { seed, .. } => {
            if !(RAFFLE_SEED_LEN_MIN..=RAFFLE_SEED_LEN_MAX).contains(&seed.len()) {
                return Err(Rejection::invalid(format!(
                    "a raffle seed of {} bytes; it has {RAFFLE_SEED_LEN_MIN} to {RAFFLE_SEED_LEN_MAX} (32 random bytes is the advice)",
                    seed.len()
                )));
            }
            Ok(())
        }
        Op::Confirm { .. } | Op::Release { .. } | Op::Ship { .. } | Op::Cancel { .. } | Op::Rehold { .. } => Ok(()),
        Op::SetSaleWindow { window, .. } => window.validate(),
    }
}

fn validate_reserve(reserve: &Reserve) -> Result<(), Rejection> {
    if let Some(region) = &reserve.region {
        text("region", region, NAME_LEN_MAX)?;
    }
    if reserve.lines.is_empty() {
        return Err(Rejection::invalid("a reserve needs at least one line"));
    }
    if reserve.lines.len() > RESERVE_LINES_MAX {
        return Err(Rejection::invalid(format!("{} lines; the limit is {RESERVE_LINES_MAX}", reserve.lines.len())));
    }
    for (at, line) in reserve.lines.iter().enumerate() {
        if line.quantity == 0 || line.quantity > LINE_QUANTITY_MAX {
            return Err(Rejection::invalid(format!(
                "line {at} (sku {}): quantity {} is outside 1..={LINE_QUANTITY_MAX}",
                line.sku, line.quantity
            )));
        }
        if reserve.lines[..at].iter().any(|earlier| earlier.sku == line.sku) {
            return Err(Rejection::invalid(format!(
                "sku {} appears on two lines; put its units on one line",
                line.sku
            )));
        }
    }
    Ok(())
}

fn validate_keys(keys: &[IdentityKey]) -> Result<(), Rejection> {
    if keys.is_empty() || keys.len() > IDENTITY_KEYS_PER_REQUEST_MAX {
        return Err(Rejection::invalid(format!(
            "{} identity keys; a keyed request carries 1 to {IDENTITY_KEYS_PER_REQUEST_MAX}",
            keys.len()
        )));
    }
    for (at, key) in keys.iter().enumerate() {
        if keys[..at].contains(key) {
            return Err(Rejection::invalid(format!("identity key {key} is given twice")));
        }
    }
    Ok(())
}

fn validate_campaign(upsert: &UpsertCampaign) -> Result<(), Rejection> {
    let id = &upsert.id;
    if upsert.skus.is_empty() || upsert.skus.len() > CAMPAIGN_SKUS_MAX {
        return Err(Rejection::invalid(format!(
            "campaign {id} has {} SKUs; a campaign has 1 to {CAMPAIGN_SKUS_MAX}",
            upsert.skus.len()
        )));
    }
    for (at, sku) in upsert.skus.iter().enumerate() {
        if upsert.skus[..at].contains(sku) {
            return Err(Rejection::invalid(format!("campaign {id}: sku {sku} is listed twice")));
        }
    }
    if upsert.units_per_person_max == 0 || upsert.units_per_person_max > STOCK_QUANTITY_MAX {
        return Err(Rejection::invalid(format!(
            "campaign {id}: units_per_person_max {} is outside 1..={STOCK_QUANTITY_MAX}",
            upsert.units_per_person_max
        )));
    }
    if let Some(window) = upsert.window_ms
        && !(CAMPAIGN_WINDOW_MS_MIN..=CAMPAIGN_WINDOW_MS_MAX).contains(&window)
    {
        return Err(Rejection::invalid(format!(
            "campaign {id}: window_ms {window} is outside {CAMPAIGN_WINDOW_MS_MIN}..={CAMPAIGN_WINDOW_MS_MAX}; omit it to count for the campaign's life"
        )));
    }
    Ok(())
}

fn validate_sku(upsert: &UpsertSku) -> Result<(), Rejection> {
    if upsert.components.is_empty() {
        return Err(Rejection::invalid(format!("sku {} has no components", upsert.id)));
    }
    if upsert.components.len() > SKU_COMPONENTS_MAX {
        return Err(Rejection::invalid(format!(
            "sku {} has {} components; the limit is {SKU_COMPONENTS_MAX}",
            upsert.id,
            upsert.components.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for (item, quantity) in &upsert.components {
        if *quantity == 0 || *quantity > COMPONENT_QUANTITY_MAX {
            return Err(Rejection::invalid(format!(
                "sku {}: component {item} quantity {quantity} is outside 1..={COMPONENT_QUANTITY_MAX}",
                upsert.id
            )));
        }
        if !seen.insert(item) {
            return Err(Rejection::invalid(format!(
                "sku {}: item {item} is listed twice; give its total quantity once",
                upsert.id
            )));
        }
    }
    upsert.rules.validate()
}

fn text(what: &str, value: &str, max: usize) -> Result<(), Rejection> {
    if value.len() > max {
        return Err(Rejection::invalid(format!("{what} is {} bytes; the limit is {max}", value.len())));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::invalid(format!("{what} contains control characters")));
    }
    Ok(())
}

fn stock_units(units: u32, zero_allowed: bool) -> Result<(), Rejection> {
    if units == 0 && !zero_allowed {
        return Err(Rejection::invalid("a quantity of 0 units moves nothing"));
    }
    if units > STOCK_QUANTITY_MAX {
        return Err(Rejection::invalid(format!("{units} units is above the limit of {STOCK_QUANTITY_MAX}")));
    }
    Ok(())
}
