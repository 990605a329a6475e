//! Identifiers chosen by clients, validated once at the edge of the ledger.
//!
//! All ids are short printable-ASCII strings (see [`ID_LEN_MAX`]). They are stored inline
//! (no heap allocation up to 24 bytes) because holds, buyers and requests are the ledger's
//! hottest and most numerous objects.

use crate::error::Rejection;
use crate::limits::ID_LEN_MAX;
use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(CompactString);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        /// Decoding validates too: an id read from the log or a snapshot obeys the same rules as
        /// one built with `new`.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let id = CompactString::deserialize(deserializer)?;
                validate_id($what, &id).map_err(serde::de::Error::custom)?;
                Ok(Self(id))
            }
        }

        impl $name {
            /// What kind of id this is, for error messages.
            pub const KIND: &'static str = $what;

            /// Validates and wraps a client-supplied id.
            pub fn new(id: &str) -> Result<Self, Rejection> {
                validate_id($what, id)?;
                Ok(Self(CompactString::new(id)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0.as_str())
            }
        }
    };
}

id_type!(
    /// A warehouse, e.g. `sh-01`.
    WarehouseId, "warehouse");
id_type!(
    /// A back-end item (goods in a warehouse), e.g. `moutai-500ml`.
    ItemId, "item");
id_type!(
    /// A storefront listing; may bundle several units of several items.
    SkuId, "sku");
id_type!(
    /// A buyer account on the order platform.
    BuyerId, "buyer");
id_type!(
    /// A hold, chosen by the client: the order id.
    HoldId, "hold");
id_type!(
    /// A mutation's idempotency key.
    RequestId, "request");
id_type!(
    /// An inbound shipment (stock in transit to a warehouse).
    ShipmentId, "shipment");
id_type!(
    /// Something the platform says identifies the person behind a buyer account: a device, a
    /// phone number, a shipping address, a payment instrument. Opaque to the ledger, which only
    /// compares keys for equality; platforms send a digest (`phone:` plus a hash), never the
    /// raw number, since keys are kept in snapshots and shown in refusals.
    IdentityKey, "identity key");
id_type!(
    /// A campaign: SKUs sold under shared per-person caps (all Moutai of the year's release).
    CampaignId, "campaign");

/// Checks that `id` is 1 to [`ID_LEN_MAX`] bytes of printable ASCII without spaces.
pub fn validate_id(kind: &'static str, id: &str) -> Result<(), Rejection> {
    if id.is_empty() {
        return Err(Rejection::invalid(format!("{kind} id is empty")));
    }
    if id.len() > ID_LEN_MAX {
        return Err(Rejection::invalid(format!("{kind} id is {} bytes long; the limit is {ID_LEN_MAX}", id.len())));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Rejection::invalid(format!("{kind} id {id:?} must be printable ASCII without spaces")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_printable_ids_up_to_the_limit() {
        assert!(HoldId::new("order-2026-11-24-000001").is_ok());
        assert!(HoldId::new(&"x".repeat(ID_LEN_MAX)).is_ok());
    }

    #[test]
    fn rejects_empty_long_and_unprintable_ids() {
        for bad in ["", "has space", "tab\t", "naïve"] {
            assert!(matches!(HoldId::new(bad), Err(Rejection::InvalidArgument(_))), "{bad:?}");
        }
        assert!(HoldId::new(&"x".repeat(ID_LEN_MAX + 1)).is_err());
    }
}
