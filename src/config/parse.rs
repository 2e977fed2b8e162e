//! The parsers the settings share: numbers, booleans, durations, byte
//! counts and comma lists. Each error names the setting (`name` is its
//! label, `--flag / MCP_VARIABLE`) and lists the accepted forms.

use std::time::Duration;

use super::duration::{DURATION_FORMS, parse_duration};

/// Splits a comma-separated list, trimming entries and dropping empty ones.
pub(crate) fn split_list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

pub(crate) fn parse_number<T: std::str::FromStr>(
    text: Option<&str>,
    default: T,
    name: &str,
    forms: &str,
) -> Result<T, String> {
    match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some(value) => value.parse().map_err(|_| format!("invalid value '{value}' for {name}; expected {forms}")),
    }
}

pub(crate) fn parse_bool(text: Option<&str>, name: &str) -> Result<bool, String> {
    match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") | Some("no") | Some("off") => Ok(false),
        Some("true") | Some("1") | Some("yes") | Some("on") => Ok(true),
        Some(other) => Err(format!("invalid value '{other}' for {name}; expected true or false")),
    }
}

/// A positive duration with a default.
pub(crate) fn parse_timeout(text: Option<&str>, default: Duration, name: &str) -> Result<Duration, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    let value =
        parse_duration(text).map_err(|_| format!("invalid value '{text}' for {name}; expected {DURATION_FORMS}"))?;
    if value.is_zero() {
        return Err(format!("invalid value '{text}' for {name}; it must be greater than zero"));
    }
    Ok(value)
}

/// A byte count: a plain number, or one with a K/KiB/M/MiB/G/GiB suffix
/// (binary multiples either way).
pub(crate) fn parse_bytes(text: Option<&str>, default: usize, name: &str) -> Result<usize, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let multiplier: usize = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => usize::MAX,
    };
    let value =
        number.parse::<usize>().ok().filter(|_| multiplier != usize::MAX).and_then(|n| n.checked_mul(multiplier));
    match value {
        Some(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(format!(
            "invalid value '{text}' for {name}; expected a positive number of bytes such as 1048576, 512K or 1MiB"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_accept_suffixes() {
        assert_eq!(parse_bytes(Some("512K"), 1, "x"), Ok(512 << 10));
        assert_eq!(parse_bytes(Some("2MiB"), 1, "x"), Ok(2 << 20));
        assert_eq!(parse_bytes(Some("100"), 1, "x"), Ok(100));
        assert!(parse_bytes(Some("0"), 1, "x").is_err());
        assert!(parse_bytes(Some("1T"), 1, "x").is_err());
    }
}
