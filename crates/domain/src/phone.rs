//! Phone numbers. The type is the privacy guard: `Display` and `Debug` print
//! only the masked form, so a phone that slips into a log line or an error
//! message leaks nothing; the full number must be asked for by name
//! (`expose_e164`), which only the encryption layer and the dialer do.
use crate::ValidationError;
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

/// Country calling codes of one and two digits (ITU-T E.164 assignments);
/// every other code has three. Only used to place the space in the mask.
const ONE_DIGIT_CODES: &[&str] = &["1", "7"];
const TWO_DIGIT_CODES: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

impl PhoneNumber {
    /// Accepts E.164: `+`, a non-zero digit, 7 to 15 digits in all. Spaces,
    /// dashes and parentheses are tolerated and dropped.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let digits = cleaned.strip_prefix('+').ok_or_else(|| {
            ValidationError::new(
                field,
                "must be an E.164 number starting with + and a country code",
            )
        })?;
        let valid = (7..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if !valid {
            return Err(ValidationError::new(
                field,
                "must be an E.164 number: + then 7 to 15 digits, not starting with 0",
            ));
        }
        Ok(Self(cleaned))
    }

    /// The full number. Call only to encrypt it or to dial it.
    pub fn expose_e164(&self) -> &str {
        &self.0
    }

    /// `+86 138****5678`: country code, the first three national digits, the
    /// last four; everything between is starred.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let cc_len = if ONE_DIGIT_CODES.iter().any(|c| digits.starts_with(c)) {
            1
        } else if TWO_DIGIT_CODES.iter().any(|c| digits.starts_with(c)) {
            2
        } else {
            3
        };
        let (cc, national) = digits.split_at(cc_len.min(digits.len()));
        // Long national numbers follow the common 3 + 4 convention; shorter
        // ones reveal at most half.
        let (keep_head, keep_tail) = if national.len() >= 10 {
            (3, 4)
        } else {
            (national.len() / 4, national.len() / 4)
        };
        let stars = national.len() - keep_head - keep_tail;
        format!(
            "+{cc} {}{}{}",
            &national[..keep_head],
            "*".repeat(stars),
            &national[national.len() - keep_tail..]
        )
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_a_chinese_mobile_like_the_hotline_did() {
        let p = PhoneNumber::parse("phone", "+86 138 1234 5678").unwrap();
        assert_eq!(p.expose_e164(), "+8613812345678");
        assert_eq!(p.masked(), "+86 138****5678");
        assert_eq!(format!("{p}"), "+86 138****5678");
        assert!(!format!("{p:?}").contains("12345678"));
    }

    #[test]
    fn masks_other_country_code_lengths() {
        assert_eq!(
            PhoneNumber::parse("p", "+12125551234").unwrap().masked(),
            "+1 212***1234"
        );
        assert_eq!(
            PhoneNumber::parse("p", "+85291234567").unwrap().masked(),
            "+852 91****67"
        );
    }

    #[test]
    fn rejects_what_is_not_e164() {
        for bad in [
            "13812345678",
            "+0123456789",
            "+86abc",
            "+123",
            "+1234567890123456",
            "",
        ] {
            let err = PhoneNumber::parse("phone", bad).unwrap_err();
            assert_eq!(err.field, "phone");
        }
    }
}
