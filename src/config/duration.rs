//! Duration syntax shared by every timeout setting and by the `timeout` input
//! of `execute_command`.
//!
//! Operators migrating from go-mcp-commander write Go durations (`30s`,
//! `1m30s`, `500ms`, `1.5h`); agents often send plain seconds (`30`, `2.5`).
//! Both are accepted. Anything else is rejected with a message that lists
//! the accepted forms, so the caller can fix it without reading code.

use std::time::Duration;

/// The accepted forms, quoted in every error message.
pub(crate) const DURATION_FORMS: &str =
    "a Go duration such as 30s, 1m30s, 500ms, 1.5h, or a plain number of seconds such as 30";

/// Parses a Go-style duration or a plain number of seconds.
///
/// Negative values, empty strings and values too large to represent are
/// refused. Zero is accepted here; callers that need a positive value check
/// it themselves, because "zero" means different things to different
/// settings.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty duration; expected {DURATION_FORMS}"));
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds, text);
    }
    parse_go_duration(text).ok_or_else(|| format!("'{text}' is not a duration; expected {DURATION_FORMS}"))
}

/// Converts a number of seconds (from JSON or text) into a duration.
pub(crate) fn seconds_to_duration(seconds: f64, shown: &str) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("'{shown}' is not a non-negative duration; expected {DURATION_FORMS}"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{shown}' is too large a duration"))
}

/// Go's `time.ParseDuration` grammar: one or more `<decimal><unit>` terms,
/// units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`. A bare `0` is handled by the
/// plain-number path before this is reached.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_nanos += value * nanos_per_unit;
        rest = next;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total_nanos.round() as u64))
}

/// Formats a duration the way Go prints it (`1m30s`, `500ms`), for fields
/// that existing clients of go-mcp-commander read.
pub(crate) fn format_go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_decimal(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_decimal(nanos as f64 / 1e6));
    }
    let total_seconds = duration.as_secs_f64();
    let hours = (total_seconds / 3600.0).floor();
    let minutes = ((total_seconds - hours * 3600.0) / 60.0).floor();
    let seconds = total_seconds - hours * 3600.0 - minutes * 60.0;
    let mut out = String::new();
    if hours > 0.0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0.0 || minutes > 0.0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", trim_decimal(seconds)));
    out
}

/// Prints at most nine decimals and no trailing zeros, as Go does.
fn trim_decimal(value: f64) -> String {
    let text = format!("{value:.9}");
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_go() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2h45m"), Ok(Duration::from_secs(9900)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("10µs"), Ok(Duration::from_micros(10)));
    }

    #[test]
    fn plain_numbers_are_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn malformed_durations_name_the_accepted_forms() {
        for bad in ["", "abc", "10x", "s", "-5", "-5s", "1m-3s", "..s", "NaN", "inf"] {
            let error = parse_duration(bad).unwrap_err();
            assert!(error.contains("30s"), "{bad}: {error}");
        }
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }
}
