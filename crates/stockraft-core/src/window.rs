//! Sale windows: when a SKU's sale opens and closes, in log time. Reserves and deducts before
//! the opening are refused `NotYetOnSale`, from the close on `SaleClosed`. Log time decides (the
//! leader's stamp on the command, never the client's clock), so a storefront whose clock runs
//! ahead cannot sell a millisecond early, and every replica refuses the same requests.
//!
//! A hold taken inside the window lives on after the close: it may be confirmed, released, or
//! re-held under the re-hold rule (the buyer's order began while the sale was open).

use crate::error::Rejection;
use crate::ids::SkuId;
use crate::limits::SALE_WINDOW_MS_MAX;
use serde::{Deserialize, Serialize};

/// `[opens_at_ms, closes_at_ms)`; either end may be open (no window: always on sale).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SaleWindow {
    /// The first log time at which reserves and deducts are taken.
    pub opens_at_ms: Option<u64>,
    /// The first log time at which they are refused again.
    pub closes_at_ms: Option<u64>,
}

impl SaleWindow {
    /// Refuses a window that could sell nothing or names a time past the limit.
    pub fn validate(&self) -> Result<(), Rejection> {
        for (name, at) in [("opens_at_ms", self.opens_at_ms), ("closes_at_ms", self.closes_at_ms)] {
            if at.is_some_and(|at| at == 0 || at > SALE_WINDOW_MS_MAX) {
                return Err(Rejection::invalid(format!(
                    "sale window {name} must be 1 to {SALE_WINDOW_MS_MAX} (ms since the Unix epoch), got {}",
                    at.unwrap_or_default()
                )));
            }
        }
        if let (Some(opens), Some(closes)) = (self.opens_at_ms, self.closes_at_ms)
            && closes <= opens
        {
            return Err(Rejection::invalid(format!(
                "sale window closes_at_ms {closes} is not after opens_at_ms {opens}: it would sell nothing"
            )));
        }
        Ok(())
    }

    /// Whether new demand (a reserve or a deduct) may be taken at log time `now_ms`.
    pub fn check(&self, sku: &SkuId, now_ms: u64) -> Result<(), Rejection> {
        if let Some(opens_at_ms) = self.opens_at_ms
            && now_ms < opens_at_ms
        {
            return Err(Rejection::NotYetOnSale { sku: sku.clone(), opens_at_ms, now_ms });
        }
        if let Some(closed_at_ms) = self.closes_at_ms
            && now_ms >= closed_at_ms
        {
            return Err(Rejection::SaleClosed { sku: sku.clone(), closed_at_ms });
        }
        Ok(())
    }

    /// Whether the SKU is on sale at `now_ms`.
    pub fn is_open(&self, now_ms: u64) -> bool {
        self.opens_at_ms.is_none_or(|opens| now_ms >= opens) && self.closes_at_ms.is_none_or(|closes| now_ms < closes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku() -> SkuId {
        SkuId::new("moutai").unwrap()
    }

    #[test]
    fn a_window_opens_at_its_first_millisecond_and_closes_at_its_last() {
        let window = SaleWindow { opens_at_ms: Some(1_000), closes_at_ms: Some(2_000) };
        assert_eq!(
            window.check(&sku(), 999),
            Err(Rejection::NotYetOnSale { sku: sku(), opens_at_ms: 1_000, now_ms: 999 })
        );
        assert_eq!(window.check(&sku(), 1_000), Ok(()));
        assert_eq!(window.check(&sku(), 1_999), Ok(()));
        assert_eq!(window.check(&sku(), 2_000), Err(Rejection::SaleClosed { sku: sku(), closed_at_ms: 2_000 }));
        assert!(!window.is_open(999) && window.is_open(1_000) && !window.is_open(2_000));
        assert!(SaleWindow::default().is_open(0) && SaleWindow::default().check(&sku(), 0).is_ok());
    }

    #[test]
    fn a_window_that_sells_nothing_is_refused() {
        let backwards = SaleWindow { opens_at_ms: Some(2_000), closes_at_ms: Some(2_000) };
        assert!(backwards.validate().unwrap_err().to_string().contains("is not after opens_at_ms"));
        let zero = SaleWindow { opens_at_ms: Some(0), closes_at_ms: None };
        assert!(zero.validate().unwrap_err().to_string().contains("opens_at_ms must be 1 to"));
        let far = SaleWindow { opens_at_ms: None, closes_at_ms: Some(SALE_WINDOW_MS_MAX + 1) };
        assert!(far.validate().is_err());
        SaleWindow { opens_at_ms: Some(1), closes_at_ms: Some(SALE_WINDOW_MS_MAX) }.validate().unwrap();
    }
}
