//! The service's own clock for what people read: Beijing time (China keeps
//! one zone and no summer time), used wherever a time is written for a
//! person or a partner rather than in a device's own zone.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// 北京时间, the zone of the cashier, Alipay's timestamps and the pages'
/// default.
pub const BEIJING: Tz = chrono_tz::Asia::Shanghai;

/// `at` in Beijing time.
pub fn beijing(at: DateTime<Utc>) -> DateTime<Tz> {
    at.with_timezone(&BEIJING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_is_eight_hours_ahead_of_utc_all_year() {
        for month in [1, 7] {
            let at: DateTime<Utc> = format!("2026-{month:02}-01T20:30:00Z").parse().unwrap();
            assert_eq!(beijing(at).format("%H:%M").to_string(), "04:30");
        }
    }
}
