//! Risk rules as one line of text, for a CSV column (an ERP export has no nested messages):
//!
//! ```text
//! account_age_days<30=>reject; orders_last_year<1,days_since_active>=180=>cap:1; =>allow
//! ```
//!
//! Rules are separated by `;` and tried in order (the first that matches decides, as in the
//! ledger). Each is `CONDITIONS=>ACTION`: conditions, all of which must hold, separated by `,`
//! (none: the rule matches every buyer), among `account_age_days<N`, `membership_age_days<N`,
//! `orders_last_year<N` and `days_since_active>=N`; the action is `allow`, `reject` or
//! `cap:N` (at most N units). The ledger checks the rules' limits; this only reads them.

use stockraft_client::v1;
use v1::risk_rule::Action;

/// Reads a rule list; empty text is no rules.
pub fn parse(text: &str) -> Result<Vec<v1::RiskRule>, String> {
    text.split(';').map(str::trim).filter(|rule| !rule.is_empty()).map(rule).collect()
}

fn rule(text: &str) -> Result<v1::RiskRule, String> {
    let (conditions, action) =
        text.split_once("=>").ok_or_else(|| format!("risk rule {text:?} is not CONDITIONS=>ACTION"))?;
    let mut rule = v1::RiskRule { action: Some(action_of(action.trim(), text)?), ..v1::RiskRule::default() };
    for condition in conditions.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (field, value) = if let Some((field, value)) = condition.split_once(">=") {
            (format!("{}>=", field.trim()), value)
        } else if let Some((field, value)) = condition.split_once('<') {
            (format!("{}<", field.trim()), value)
        } else {
            return Err(format!("risk rule {text:?}: condition {condition:?} is not FIELD<N or FIELD>=N"));
        };
        let n: u32 = value
            .trim()
            .parse()
            .map_err(|_| format!("risk rule {text:?}: {value:?} in {condition:?} is not a whole number"))?;
        let slot = match field.as_str() {
            "account_age_days<" => &mut rule.account_age_days_below,
            "membership_age_days<" => &mut rule.membership_age_days_below,
            "orders_last_year<" => &mut rule.orders_last_year_below,
            "days_since_active>=" => &mut rule.days_since_last_activity_at_least,
            _ => {
                return Err(format!(
                    "risk rule {text:?}: unknown condition {condition:?} (account_age_days<N, \
                     membership_age_days<N, orders_last_year<N, days_since_active>=N)"
                ));
            }
        };
        if slot.replace(n).is_some() {
            return Err(format!("risk rule {text:?}: {field} is given twice"));
        }
    }
    Ok(rule)
}

fn action_of(action: &str, text: &str) -> Result<Action, String> {
    match action.to_ascii_lowercase().as_str() {
        "allow" => Ok(Action::Allow(true)),
        "reject" => Ok(Action::Reject(true)),
        other => match other.strip_prefix("cap:").map(|n| n.trim().parse::<u32>()) {
            Some(Ok(units)) => Ok(Action::CapUnits(units)),
            _ => Err(format!("risk rule {text:?}: action {action:?} is not allow, reject or cap:N")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_in_order_with_their_conditions_and_actions() {
        let rules =
            parse("account_age_days<30=>reject; orders_last_year<1, days_since_active>=180 => cap:1; =>allow").unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].account_age_days_below, Some(30));
        assert_eq!(rules[0].action, Some(Action::Reject(true)));
        assert_eq!((rules[1].orders_last_year_below, rules[1].days_since_last_activity_at_least), (Some(1), Some(180)));
        assert_eq!(rules[1].action, Some(Action::CapUnits(1)));
        assert_eq!(rules[2], v1::RiskRule { action: Some(Action::Allow(true)), ..v1::RiskRule::default() });
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn a_malformed_rule_says_what_is_wrong() {
        assert!(parse("account_age_days<30").unwrap_err().contains("not CONDITIONS=>ACTION"));
        assert!(parse("age<3=>reject").unwrap_err().contains("unknown condition"));
        assert!(parse("account_age_days<x=>reject").unwrap_err().contains("not a whole number"));
        assert!(parse("account_age_days<3=>ban").unwrap_err().contains("allow, reject or cap:N"));
        assert!(parse("account_age_days<3,account_age_days<4=>reject").unwrap_err().contains("twice"));
    }
}
