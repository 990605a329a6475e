//! A SKU's sale rules: how stock is deducted, how long holds last, and the anti-scalper rules
//! (per-buyer caps, open-hold caps, buyer-risk rules, blocklist).

use crate::error::{Rejection, RiskReason};
use crate::limits::*;
use serde::{Deserialize, Serialize};

/// When stock is taken from a SKU's availability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeductionMode {
    /// `Reserve` takes a hold that never expires; confirm or release ends it.
    OnOrder,
    /// Nothing is held at order time; `Deduct` allocates and commits in one step at payment.
    OnPayment,
    /// `Reserve` takes a hold with a TTL; confirm within the TTL commits, expiry releases.
    #[default]
    PreDeduct,
}

/// What the platform tells us about a buyer with each reserve, to spot scalpers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuyerSignals {
    pub account_age_days: u32,
    pub membership_age_days: u32,
    pub orders_last_year: u32,
    pub days_since_last_activity: u32,
}

/// A rule's condition: it matches when every condition that is set holds. A rule with no
/// condition set matches every buyer (a catch-all at the end of the list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RiskCondition {
    pub account_age_days_below: Option<u32>,
    pub membership_age_days_below: Option<u32>,
    pub orders_last_year_below: Option<u32>,
    pub days_since_last_activity_at_least: Option<u32>,
}

impl RiskCondition {
    pub fn matches(&self, signals: &BuyerSignals) -> bool {
        let below = |limit: Option<u32>, value: u32| limit.is_none_or(|limit| value < limit);
        below(self.account_age_days_below, signals.account_age_days)
            && below(self.membership_age_days_below, signals.membership_age_days)
            && below(self.orders_last_year_below, signals.orders_last_year)
            && self.days_since_last_activity_at_least.is_none_or(|limit| signals.days_since_last_activity >= limit)
    }
}

/// What a matching rule does to the buyer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RiskAction {
    Allow,
    /// The buyer may hold or buy at most this many units of the SKU in all.
    Cap(u32),
    Reject,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RiskRule {
    pub when: RiskCondition,
    pub action: RiskAction,
}

/// The verdict of the risk rules for one buyer on one SKU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskVerdict {
    Allow,
    Cap(u32),
    Reject(RiskReason),
}

/// Per-SKU sale rules. [`SaleRules::default`] is a plain `PRE_DEDUCT` SKU with a 20-minute
/// hold, one re-hold within 5 minutes of expiry, no caps and no risk rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SaleRules {
    pub mode: DeductionMode,
    /// Hold lifetime in `PRE_DEDUCT` mode.
    pub hold_ttl_ms: u64,
    /// Units one buyer may have across open holds and confirmed (or shipped) orders.
    pub units_per_buyer_max: Option<u32>,
    /// Open holds one buyer may have on this SKU at once.
    pub open_holds_per_buyer_max: Option<u32>,
    /// Re-holds one expired hold may take when it is confirmed late.
    pub rehold_limit: u32,
    /// How long after expiry a late confirm may still take a re-hold.
    pub rehold_grace_ms: u64,
    /// Evaluated in order; the first match decides. No match allows.
    pub risk_rules: Vec<RiskRule>,
    /// Whether one line's units may come from several warehouses.
    pub allow_split: bool,
    /// SKU units that may be sold from in-transit stock ahead of arrival (0: no presale).
    pub presale_units_max: u32,
}

pub const DEFAULT_HOLD_TTL_MS: u64 = 20 * 60_000;
pub const DEFAULT_REHOLD_GRACE_MS: u64 = 5 * 60_000;

impl Default for SaleRules {
    fn default() -> Self {
        SaleRules {
            mode: DeductionMode::PreDeduct,
            hold_ttl_ms: DEFAULT_HOLD_TTL_MS,
            units_per_buyer_max: None,
            open_holds_per_buyer_max: None,
            rehold_limit: 1,
            rehold_grace_ms: DEFAULT_REHOLD_GRACE_MS,
            risk_rules: Vec::new(),
            allow_split: false,
            presale_units_max: 0,
        }
    }
}

impl SaleRules {
    pub fn validate(&self) -> Result<(), Rejection> {
        if !(HOLD_TTL_MS_MIN..=HOLD_TTL_MS_MAX).contains(&self.hold_ttl_ms) {
            return Err(Rejection::invalid(format!(
                "hold_ttl_ms {} is outside {HOLD_TTL_MS_MIN}..={HOLD_TTL_MS_MAX}",
                self.hold_ttl_ms
            )));
        }
        if self.units_per_buyer_max == Some(0) {
            return Err(Rejection::invalid("units_per_buyer_max of 0 would sell nothing; omit it for no cap"));
        }
        if self.open_holds_per_buyer_max == Some(0) {
            return Err(Rejection::invalid("open_holds_per_buyer_max of 0 would sell nothing; omit it for no cap"));
        }
        if self.rehold_limit > REHOLD_LIMIT_MAX {
            return Err(Rejection::invalid(format!("rehold_limit {} is above {REHOLD_LIMIT_MAX}", self.rehold_limit)));
        }
        if self.rehold_grace_ms > REHOLD_GRACE_MS_MAX {
            return Err(Rejection::invalid(format!(
                "rehold_grace_ms {} is above {REHOLD_GRACE_MS_MAX}",
                self.rehold_grace_ms
            )));
        }
        if self.risk_rules.len() > RISK_RULES_MAX {
            return Err(Rejection::invalid(format!(
                "{} risk rules; the limit is {RISK_RULES_MAX}",
                self.risk_rules.len()
            )));
        }
        if self.risk_rules.iter().any(|rule| rule.action == RiskAction::Cap(0)) {
            return Err(Rejection::invalid("a risk cap of 0 units is a reject; say Reject"));
        }
        if self.presale_units_max > STOCK_QUANTITY_MAX {
            return Err(Rejection::invalid(format!(
                "presale_units_max {} is above {STOCK_QUANTITY_MAX}",
                self.presale_units_max
            )));
        }
        Ok(())
    }

    /// The first matching risk rule's verdict, or `Allow`.
    pub fn risk_verdict(&self, signals: &BuyerSignals) -> RiskVerdict {
        for (index, rule) in self.risk_rules.iter().enumerate() {
            if rule.when.matches(signals) {
                return match rule.action {
                    RiskAction::Allow => RiskVerdict::Allow,
                    RiskAction::Cap(units) => RiskVerdict::Cap(units),
                    RiskAction::Reject => RiskVerdict::Reject(RiskReason::Rule(index as u16)),
                };
            }
        }
        RiskVerdict::Allow
    }

    /// Whether holds on this SKU can be taken with `Reserve` (as opposed to `Deduct`).
    pub fn holds_at_order(&self) -> bool {
        self.mode != DeductionMode::OnPayment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalper() -> BuyerSignals {
        BuyerSignals { account_age_days: 1, membership_age_days: 0, orders_last_year: 0, days_since_last_activity: 400 }
    }

    fn regular() -> BuyerSignals {
        BuyerSignals {
            account_age_days: 2_000,
            membership_age_days: 700,
            orders_last_year: 25,
            days_since_last_activity: 2,
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let rules = SaleRules {
            risk_rules: vec![
                RiskRule {
                    when: RiskCondition { account_age_days_below: Some(30), ..Default::default() },
                    action: RiskAction::Reject,
                },
                RiskRule {
                    when: RiskCondition { orders_last_year_below: Some(3), ..Default::default() },
                    action: RiskAction::Cap(1),
                },
            ],
            ..SaleRules::default()
        };
        assert_eq!(rules.risk_verdict(&scalper()), RiskVerdict::Reject(RiskReason::Rule(0)));
        assert_eq!(rules.risk_verdict(&BuyerSignals { account_age_days: 90, ..scalper() }), RiskVerdict::Cap(1));
        assert_eq!(rules.risk_verdict(&regular()), RiskVerdict::Allow);
    }

    #[test]
    fn inactivity_condition_is_at_least() {
        let when = RiskCondition { days_since_last_activity_at_least: Some(365), ..Default::default() };
        assert!(when.matches(&scalper()));
        assert!(!when.matches(&regular()));
        assert!(RiskCondition::default().matches(&regular()), "no condition is a catch-all");
    }

    #[test]
    fn rejects_rules_that_cannot_sell() {
        let zero_cap = SaleRules { units_per_buyer_max: Some(0), ..SaleRules::default() };
        assert!(zero_cap.validate().is_err());
        let short_ttl = SaleRules { hold_ttl_ms: 10, ..SaleRules::default() };
        assert!(short_ttl.validate().is_err());
        assert!(SaleRules::default().validate().is_ok());
    }
}
