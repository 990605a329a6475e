//! Points in time on the command line, for sale windows: an RFC 3339 time with its UTC offset
//! (`2026-12-12T10:00:00+08:00`, `2026-12-12T02:00:00Z`), `now`, `+DURATION` from now (`+90s`,
//! `+2h30m`), or milliseconds since the Unix epoch. The ledger compares them with log time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from one of the forms above.
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let now = || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    if text == "now" {
        return Ok(now());
    }
    if let Some(later) = text.strip_prefix('+') {
        let span: jiff::SignedDuration =
            later.parse().map_err(|e| format!("{text:?}: not a duration such as +90s or +2h30m ({e})"))?;
        let ms = u64::try_from(span.as_millis()).map_err(|_| format!("{text:?}: the duration must not be negative"))?;
        return now().checked_add(ms).ok_or_else(|| format!("{text:?}: too far ahead"));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| format!("{text:?}: too many milliseconds"));
    }
    let at: jiff::Timestamp = text.parse().map_err(|e| {
        format!("{text:?}: not a time; give RFC 3339 with an offset (2026-12-12T10:00:00+08:00), now, +90s, or ms since the epoch ({e})")
    })?;
    u64::try_from(at.as_millisecond()).map_err(|_| format!("{text:?}: before 1970"))
}

/// A length of log time in milliseconds: `30d`, `12h`, `90s`, `2h30m` (days of 24 hours), or a
/// bare number of milliseconds.
pub fn duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| format!("{text:?}: too many milliseconds"));
    }
    let span: jiff::Span =
        text.parse().map_err(|e| format!("{text:?}: not a duration such as 30d, 12h or 90s ({e})"))?;
    let total = jiff::SpanTotal::from(jiff::Unit::Millisecond).days_are_24_hours();
    let ms = span.total(total).map_err(|e| format!("{text:?}: {e}"))?;
    if !(0.0..=u64::MAX as f64).contains(&ms) {
        return Err(format!("{text:?}: the duration must not be negative"));
    }
    Ok(ms as u64)
}

/// A time for people: RFC 3339 in UTC.
pub fn show(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| format!("{ms} ms"), |at| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_with_their_offsets_relative_or_as_milliseconds() {
        let beijing = parse("2026-12-12T10:00:00+08:00").unwrap();
        assert_eq!(beijing, parse("2026-12-12T02:00:00Z").unwrap());
        assert_eq!(beijing, 1_797_040_800_000);
        assert_eq!(parse("1797040800000").unwrap(), beijing);
        let soon = parse("+90s").unwrap();
        let now = parse("now").unwrap();
        assert!((89_000..=91_000).contains(&(soon - now)), "{}", soon - now);
        assert_eq!(show(beijing), "2026-12-12T02:00:00Z");
    }

    #[test]
    fn durations_read_in_days_hours_seconds_or_milliseconds() {
        assert_eq!(duration_ms("30d").unwrap(), 30 * 24 * 3_600_000);
        assert_eq!(duration_ms("2h30m").unwrap(), 9_000_000);
        assert_eq!(duration_ms("60000").unwrap(), 60_000);
        assert!(duration_ms("-5d").unwrap_err().contains("negative"));
        assert!(duration_ms("soon").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn a_time_without_an_offset_or_a_bad_duration_is_refused() {
        assert!(parse("2026-12-12 10:00").unwrap_err().contains("RFC 3339 with an offset"));
        assert!(parse("+soon").unwrap_err().contains("not a duration"));
        assert!(parse("").is_err());
    }
}
