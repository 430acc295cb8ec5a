//! The `anxin` binary's library half: configuration, telemetry, wiring and
//! demo data. `main.rs` is only the CLI; tests build the same `Application`.

pub mod config;
pub mod demo;
pub mod startup;
pub mod telemetry;
pub mod worker;

pub use config::Settings;
pub use startup::Application;

/// Parses an operator's `--area`: an area's name, or `national`.
pub fn parse_area(raw: &str) -> Result<anxin_store::sign_in::OperatorArea, String> {
    use anxin_store::sign_in::OperatorArea;
    match raw.trim().to_ascii_lowercase().as_str() {
        "national" => Ok(OperatorArea::National),
        area => anxin_domain::region::Area::parse(area)
            .map(OperatorArea::Area)
            .ok_or_else(|| {
                format!("{raw:?}: an area is north, east, central, south or west (or national)")
            }),
    }
}

/// Parses `30s`, `15m`, `1h`, `7d` (or bare seconds).
pub fn parse_ttl(raw: &str) -> Result<std::time::Duration, String> {
    let raw = raw.trim();
    let (num, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 30m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{raw:?}: unit must be s, m, h or d")),
    };
    if secs == 0 || secs > 366 * 86_400 {
        return Err(format!("{raw:?}: must be between 1s and 366d"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anxin_store::sign_in::OperatorArea;

    #[test]
    fn an_operators_area_is_one_of_five_or_national() {
        assert_eq!(
            parse_area("Central"),
            Ok(OperatorArea::Area(anxin_domain::region::Area::Central))
        );
        assert_eq!(parse_area("national"), Ok(OperatorArea::National));
        assert!(parse_area("hubei").unwrap_err().contains("north, east"));
    }
}
