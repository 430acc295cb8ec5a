//! Phone numbers. The type is the privacy guard: `Display` and `Debug` print
//! only the masked form, so a phone that slips into a log line or an error
//! message leaks nothing; the full number must be asked for by name
//! (`expose_e164`), which only the encryption layer and the dialer do.
//!
//! Input is read the way people in China type numbers: `13712345678`,
//! `137 1234 5678`, `+86 137-1234-5678`, `0086 …`, `86 137…`, full-width
//! digits, a landline with its trunk `0` (`010 1234 5678`). Whatever the
//! shape, the stored value is E.164 (`+8613712345678`). Error messages never
//! repeat the input: every message is one of the constants below.
use crate::ValidationError;
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

/// The country a number without `+` or `00` belongs to, unless the service
/// is configured otherwise (`PhoneNumber::parse_in`).
pub const DEFAULT_COUNTRY_CODE: &str = "86";

/// Country calling codes of one and two digits (ITU-T E.164 assignments);
/// every other code has three. Only used to place the space in the mask.
const ONE_DIGIT_CODES: &[&str] = &["1", "7"];
const TWO_DIGIT_CODES: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// Longer input is refused before it is looked at.
const MAX_INPUT_CHARS: usize = 64;

// Every message `parse*` can return. None of them quotes the input.
const MSG_EMPTY: &str =
    "must be a mobile number such as 138 1234 5678 or an international number starting with +";
const MSG_CHARACTERS: &str = "may contain only digits, spaces, dashes, parentheses and a leading +";
const MSG_PLUS: &str = "may have one + only, at the start";
const MSG_TOO_SHORT: &str = "is too short for a phone number";
const MSG_TOO_LONG: &str = "is too long for a phone number";
const MSG_COUNTRY_CODE: &str = "must have a country code after + or 00, and it never starts with 0";
const MSG_CN_MOBILE: &str = "a Chinese mobile number has 11 digits starting with 1";
const MSG_CN_ZERO: &str = "after +86 the number must not start with 0";
const MSG_NOT_MOBILE: &str = "must be a mobile number, not a landline";
const MSG_DEFAULT_CODE: &str =
    "cannot be checked: the configured default country code is not 1 to 3 digits";

#[cfg(test)]
const ALL_MESSAGES: &[&str] = &[
    MSG_EMPTY,
    MSG_CHARACTERS,
    MSG_PLUS,
    MSG_TOO_SHORT,
    MSG_TOO_LONG,
    MSG_COUNTRY_CODE,
    MSG_CN_MOBILE,
    MSG_CN_ZERO,
    MSG_NOT_MOBILE,
    MSG_DEFAULT_CODE,
];

/// Separators people put between digits; dropped.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '\u{2010}'
                ..='\u{2015}' // hyphens and dashes
                | '\u{FF0D}' // full-width hyphen-minus
                | '\u{FF08}'
                | '\u{FF09}' // full-width parentheses
                | '\u{FF0E}' // full-width full stop
        )
}

/// An ASCII or full-width (U+FF10..U+FF19) digit, as ASCII.
fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{FF10}'..='\u{FF19}' => char::from_digit(u32::from(c) - 0xFF10, 10),
        _ => None,
    }
}

/// A Chinese mobile: 11 digits, `1` then 3 to 9.
fn is_cn_mobile(national: &str) -> bool {
    let b = national.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// The national part of a +86 number, checked.
fn check_cn_national(national: &str) -> Result<(), &'static str> {
    let b = national.as_bytes();
    if b.len() < 9 {
        return Err(MSG_TOO_SHORT);
    }
    if b.len() > 11 {
        return Err(MSG_TOO_LONG);
    }
    match b[0] {
        b'0' => Err(MSG_CN_ZERO),
        // Beijing's area code is 10: its landlines are 10 digits from 1.
        b'1' if b.len() == 10 && b[1] == b'0' => Ok(()),
        b'1' if is_cn_mobile(national) => Ok(()),
        b'1' => Err(MSG_CN_MOBILE),
        // Area code (2 or 3 digits without its 0) and a 7 or 8 digit
        // number: 9 to 11 digits, e.g. Shenzhen's 755 1234 5678.
        _ => Ok(()),
    }
}

/// `digits` is everything after the `+`: country code and national number.
fn check_international(digits: &str) -> Result<(), &'static str> {
    if digits.starts_with('0') {
        return Err(MSG_COUNTRY_CODE);
    }
    if digits.len() < 7 {
        return Err(MSG_TOO_SHORT);
    }
    if digits.len() > 15 {
        return Err(MSG_TOO_LONG);
    }
    match digits.strip_prefix("86") {
        // No other country code starts with 86 (850-856 and 886 don't).
        Some(national) => check_cn_national(national),
        None => Ok(()),
    }
}

/// The digits of `raw` and whether a `+` led them, or why it can't be read.
fn digits_of(raw: &str) -> Result<(bool, String), &'static str> {
    let mut plus = false;
    let mut digits = String::with_capacity(16);
    for c in raw.chars() {
        if let Some(d) = ascii_digit(c) {
            digits.push(d);
        } else if c == '+' || c == '\u{FF0B}' {
            if plus || !digits.is_empty() {
                return Err(MSG_PLUS);
            }
            plus = true;
        } else if !is_separator(c) {
            return Err(MSG_CHARACTERS);
        }
    }
    if digits.is_empty() {
        return Err(if plus { MSG_TOO_SHORT } else { MSG_EMPTY });
    }
    Ok((plus, digits))
}

/// The E.164 digits (without `+`) of `raw`, national numbers read as numbers
/// of `cc`.
fn normalise(raw: &str, cc: &str) -> Result<String, &'static str> {
    if raw.chars().nth(MAX_INPUT_CHARS).is_some() {
        return Err(MSG_TOO_LONG);
    }
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(MSG_EMPTY);
    }
    let cc = cc.strip_prefix('+').unwrap_or(cc);
    if !(1..=3).contains(&cc.len())
        || cc.starts_with('0')
        || !cc.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(MSG_DEFAULT_CODE);
    }
    let (plus, digits) = digits_of(raw)?;
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if cc == "86"
        && digits.len() == 13
        && is_cn_mobile(&digits[2..])
        && digits.starts_with("86")
    {
        // `86 137 1234 5678`: the country code without its `+`.
        digits
    } else {
        // National: one trunk 0 goes, the country code comes.
        let national = digits.strip_prefix('0').unwrap_or(&digits);
        if national.is_empty() {
            return Err(MSG_TOO_SHORT);
        }
        format!("{cc}{national}")
    };
    check_international(&international)?;
    Ok(international)
}

impl PhoneNumber {
    /// Reads any common way of writing a phone number (see the module
    /// docs); a number without `+` or `00` is Chinese (`DEFAULT_COUNTRY_CODE`).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        Self::parse_in(field, raw, DEFAULT_COUNTRY_CODE)
    }

    /// Like `parse`, with numbers without `+` or `00` read as national
    /// numbers of `default_country_code` (digits only, e.g. `"86"`,
    /// `"852"`): one leading trunk `0` is dropped and the code put in front.
    ///
    /// +86 numbers are checked further: a mobile is 11 digits `1[3-9]…`, a
    /// landline 9 to 11 digits (area code and number, without the trunk 0)
    /// starting with 2 to 9, or Beijing's 10 digits starting `10`.
    /// Other countries get the E.164 rule: 7 to 15 digits, the first not 0.
    pub fn parse_in(
        field: &str,
        raw: &str,
        default_country_code: &str,
    ) -> Result<Self, ValidationError> {
        normalise(raw, default_country_code)
            .map(|digits| Self(format!("+{digits}")))
            .map_err(|message| ValidationError::new(field, message))
    }

    /// Like `parse_in`, and refuses a Chinese landline (an SMS can't reach
    /// it). Numbers of other countries are taken as they are.
    pub fn parse_mobile(
        field: &str,
        raw: &str,
        default_country_code: &str,
    ) -> Result<Self, ValidationError> {
        let phone = Self::parse_in(field, raw, default_country_code)?;
        if !phone.is_mobile() {
            return Err(ValidationError::new(field, MSG_NOT_MOBILE));
        }
        Ok(phone)
    }

    /// A number as it was stored after `parse` accepted it (E.164: `+`
    /// and 7 to 15 digits, not starting with 0). Reading back what was
    /// written must not depend on today's rules for new input.
    pub fn from_stored(e164: &str) -> Option<Self> {
        let digits = e164.strip_prefix('+')?;
        ((7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0'))
        .then(|| Self(e164.to_string()))
    }

    /// For +86, whether the number is a mobile (11 national digits from 1);
    /// for every other country `true`, as the number alone can't tell.
    pub fn is_mobile(&self) -> bool {
        match self.0.strip_prefix("+86") {
            Some(national) => national.len() == 11 && national.starts_with('1'),
            None => true,
        }
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

    /// Formerly `rejects_what_is_not_e164`, which also refused the national
    /// `13812345678`; a national number is now read as Chinese.
    #[test]
    fn rejects_malformed_numbers() {
        for bad in ["+0123456789", "+86abc", "+123", "+1234567890123456", ""] {
            let err = PhoneNumber::parse("phone", bad).unwrap_err();
            assert_eq!(err.field, "phone");
        }
    }

    const MOBILE: &str = "+8613712345678";

    fn e164(raw: &str) -> String {
        match PhoneNumber::parse("phone", raw) {
            Ok(p) => p.expose_e164().to_string(),
            Err(e) => panic!("{raw:?} refused: {e}"),
        }
    }

    /// The message, after checking it names the field and is a known one
    /// (so it can't carry the input).
    fn refused(field: &str, raw: &str, cc: &str) -> String {
        let err = PhoneNumber::parse_in(field, raw, cc)
            .map(|p| p.expose_e164().to_string())
            .expect_err(raw);
        assert_eq!(err.field, field, "{raw:?}");
        assert!(ALL_MESSAGES.contains(&err.message.as_str()), "{err}");
        err.message
    }

    #[test]
    fn chinese_mobile_in_every_usual_shape() {
        for raw in [
            "13712345678",
            "137 1234 5678",
            "137-1234-5678",
            "(137) 1234-5678",
            "+86 137 1234 5678",
            "+86-137-1234-5678",
            "+8613712345678",
            "0086 13712345678",
            "008613712345678",
            "86 13712345678",
            "8613712345678",
            "  13712345678\t",
            "\u{3000}137 1234 5678\u{3000}",
            "\n+86 13712345678 ",
        ] {
            assert_eq!(e164(raw), MOBILE, "{raw:?}");
        }
    }

    #[test]
    fn full_width_digits_and_plus() {
        for raw in [
            "１３７１２３４５６７８",
            "１３７ １２３４ ５６７８",
            "１３７－１２３４－５６７８",
            "＋８６１３７１２３４５６７８",
            "＋86 137 1234 5678",
            "００８６１３７１２３４５６７８",
            "（１３７）１２３４５６７８",
        ] {
            assert_eq!(e164(raw), MOBILE, "{raw:?}");
        }
    }

    #[test]
    fn chinese_landlines_drop_the_trunk_zero() {
        assert_eq!(e164("010 1234 5678"), "+861012345678");
        assert_eq!(e164("010-12345678"), "+861012345678");
        assert_eq!(e164("021-12345678"), "+862112345678");
        assert_eq!(e164("0755-12345678"), "+8675512345678");
        assert_eq!(e164("0755 1234567"), "+867551234567");
        assert_eq!(e164("+86 10 1234 5678"), "+861012345678");
        assert_eq!(e164("+86 755 1234 5678"), "+8675512345678");
        assert_eq!(e164("0086 755 1234 5678"), "+8675512345678");
        // 400 service numbers are 10 national digits.
        assert_eq!(e164("400 123 4567"), "+864001234567");
    }

    #[test]
    fn is_mobile_tells_chinese_mobiles_from_landlines() {
        let mobile = PhoneNumber::parse("p", "137 1234 5678").unwrap();
        assert!(mobile.is_mobile());
        for landline in ["010 1234 5678", "0755-12345678", "+864001234567"] {
            assert!(!PhoneNumber::parse("p", landline).unwrap().is_mobile());
        }
        // Abroad the number alone can't tell.
        assert!(PhoneNumber::parse("p", "+14155550123").unwrap().is_mobile());
        assert!(PhoneNumber::parse_in("p", "2123 4567", "852")
            .unwrap()
            .is_mobile());
    }

    #[test]
    fn parse_mobile_refuses_a_landline() {
        let p = PhoneNumber::parse_mobile("seeker.phone", "137-1234-5678", "86").unwrap();
        assert_eq!(p.expose_e164(), MOBILE);
        for landline in ["010 1234 5678", "0755-12345678", "+86 21 1234 5678"] {
            let err = PhoneNumber::parse_mobile("seeker.phone", landline, "86").unwrap_err();
            assert_eq!(err.field, "seeker.phone");
            assert_eq!(err.message, "must be a mobile number, not a landline");
        }
        // Garbage keeps its own message.
        let err = PhoneNumber::parse_mobile("seeker.phone", "call me", "86").unwrap_err();
        assert_eq!(err.message, MSG_CHARACTERS);
    }

    #[test]
    fn another_default_country() {
        let hk = |raw| {
            PhoneNumber::parse_in("p", raw, "852")
                .unwrap()
                .expose_e164()
                .to_string()
        };
        assert_eq!(hk("9123 4567"), "+85291234567");
        assert_eq!(hk("+852 9123 4567"), "+85291234567");
        assert_eq!(hk("00852 9123 4567"), "+85291234567");
        // International input ignores the default; +86 is still checked.
        assert_eq!(hk("+86 137 1234 5678"), MOBILE);
        refused("p", "+86 1371234567", "852");
        // One trunk 0 is dropped: the UK's 020 7946 0000.
        assert_eq!(
            PhoneNumber::parse_in("p", "020 7946 0000", "44")
                .unwrap()
                .expose_e164(),
            "+442079460000"
        );
        assert_eq!(
            PhoneNumber::parse_in("p", "9123 4567", "+852")
                .unwrap()
                .expose_e164(),
            "+85291234567"
        );
        for bad_cc in ["", "0", "1234", "8a", "０86", "+"] {
            assert_eq!(refused("p", "9123 4567", bad_cc), MSG_DEFAULT_CODE);
        }
    }

    #[test]
    fn other_countries_keep_the_e164_rule() {
        assert_eq!(e164("+14155550123"), "+14155550123");
        assert_eq!(e164("+1 (415) 555-0123"), "+14155550123");
        assert_eq!(e164("001 415 555 0123"), "+14155550123");
        assert_eq!(e164("+85291234567"), "+85291234567");
        assert_eq!(e164("+1234567"), "+1234567");
        assert_eq!(e164("+123456789012345"), "+123456789012345");
    }

    #[test]
    fn refuses_garbage_naming_the_field() {
        let long = "1".repeat(65);
        let long_spaces = format!("{}13712345678", " ".repeat(60));
        let long_full_width = "１".repeat(40);
        for bad in [
            "",
            " ",
            "   \t ",
            "+",
            "＋",
            "++8613712345678",
            "+＋8613712345678",
            "+86+13712345678",
            "137+12345678",
            "13712345678+",
            "abc",
            "call me",
            "137abc12345678",
            "1371234567８x",
            "137\u{0}12345678",
            "\u{0}",
            "13712345678\u{0}",
            "tel:13712345678",
            "137/1234/5678",
            "١٣٧١٢٣٤٥٦٧٨", // Arabic-Indic digits
            "1371234",
            "137123456789",
            "1371234567890123",
            "00",
            "0",
            "000013712345678",
            "+0086 13712345678",
            "+86",
            "+86 0137 1234 5678",
            "+86 1271 234 5678",
            "+86 755 123 456 789",
            "+86 755 123",
            "+1 234",
            "+1234567890123456",
            "0755 1234 5678 9",
            "010 1234 567",
            "12345",
            long.as_str(),
            long_spaces.as_str(),
            long_full_width.as_str(),
        ] {
            refused("booking.phone", bad, "86");
        }
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(refused("p", "1371234", "86"), MSG_TOO_SHORT);
        assert_eq!(refused("p", "+86", "86"), MSG_TOO_SHORT);
        assert_eq!(refused("p", "+", "86"), MSG_TOO_SHORT);
        assert_eq!(refused("p", "1371234567890123", "86"), MSG_TOO_LONG);
        assert_eq!(refused("p", &"1".repeat(65), "86"), MSG_TOO_LONG);
        assert_eq!(refused("p", "137123456789", "86"), MSG_TOO_LONG);
        assert_eq!(refused("p", "1271234567", "86"), MSG_CN_MOBILE);
        assert_eq!(refused("p", "12712345678", "86"), MSG_CN_MOBILE);
        assert_eq!(refused("p", "0755 1234 5678 9", "86"), MSG_TOO_LONG);
        assert_eq!(refused("p", "+86 755 1234 5678 9", "86"), MSG_TOO_LONG);
        assert_eq!(refused("p", "+86 0755 123 4567", "86"), MSG_CN_ZERO);
        assert_eq!(refused("p", "+0123456789", "86"), MSG_COUNTRY_CODE);
        assert_eq!(refused("p", "", "86"), MSG_EMPTY);
        assert_eq!(refused("p", "  ", "86"), MSG_EMPTY);
        assert_eq!(refused("p", "137abc12345678", "86"), MSG_CHARACTERS);
        assert_eq!(refused("p", "++8613712345678", "86"), MSG_PLUS);
        for m in ALL_MESSAGES {
            assert!(!m.is_empty() && m.is_ascii(), "{m}");
        }
    }

    #[test]
    fn normalised_number_masks_and_never_prints_its_digits() {
        for raw in ["137 1234 5678", "＋86 137-1234-5678", "0086 13712345678"] {
            let p = PhoneNumber::parse("phone", raw).unwrap();
            assert_eq!(p.masked(), "+86 137****5678");
            assert_eq!(format!("{p}"), "+86 137****5678");
            assert_eq!(format!("{p:?}"), "PhoneNumber(+86 137****5678)");
            for shown in [format!("{p}"), format!("{p:?}"), format!("{p:#?}")] {
                assert!(!shown.contains("12345678"), "{shown}");
                assert!(!shown.contains("1234"), "{shown}");
            }
        }
        let landline = PhoneNumber::parse("phone", "010 1234 5678").unwrap();
        assert_eq!(landline.masked(), "+86 101***5678");
    }

    proptest::proptest! {
        /// Whatever comes in: no panic; a refusal names the field with a
        /// fixed message; an acceptance is `+` and 7 to 15 ASCII digits.
        #[test]
        fn never_panics_nor_echoes(raw in "\\PC{0,70}", cc in "[0-9+]{0,4}") {
            match PhoneNumber::parse_in("f", &raw, &cc) {
                Ok(p) => {
                    let digits = p.expose_e164().strip_prefix('+').unwrap_or_default();
                    proptest::prop_assert!((7..=15).contains(&digits.len()));
                    proptest::prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
                    let _ = (p.masked(), p.is_mobile());
                }
                Err(e) => {
                    proptest::prop_assert_eq!(e.field.as_str(), "f");
                    proptest::prop_assert!(ALL_MESSAGES.contains(&e.message.as_str()));
                }
            }
        }

        #[test]
        fn phone_shaped_input_never_panics(
            raw in "[+＋]?[0-9０-９ ()\\-－]{0,40}",
            cc in proptest::sample::select(vec!["86", "852", "1", "44"]),
        ) {
            if let Ok(p) = PhoneNumber::parse_in("f", &raw, cc) {
                let again = PhoneNumber::parse(
                    "f",
                    p.expose_e164(),
                ).unwrap();
                proptest::prop_assert_eq!(again, p);
            }
        }
    }
}
