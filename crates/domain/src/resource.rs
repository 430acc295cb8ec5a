//! Resources for referral: where a seeker can be passed on to in their
//! region (a mental-health centre, a hotline, a hospital, a social service).
use crate::error::ValidationError;
use crate::expert::text;
use serde::{Deserialize, Serialize};

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ResourceKind as "resource kind" {
        MentalHealthCentre = "mental_health_centre",
        Hotline = "hotline",
        Hospital = "hospital",
        SocialService = "social_service",
    }
}

/// A resource as an operator enters it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResourceInput {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 120,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub name: String,
    pub kind: ResourceKind,
    /// A region code or pinyin name.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub region: String,
    /// As people dial it: `12356`, `027-8584 4666`.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 3, max_length = 40, pattern = r"^[0-9+(][0-9 ()-]*[0-9]$")
    )]
    pub phone: String,
    /// When it answers: `24 小时`, `周一至周五 8:00-17:00`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 80,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub hours: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub address: Option<String>,
}

/// A checked resource (its region still as written; the caller resolves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub kind: ResourceKind,
    pub region: String,
    pub phone: String,
    pub hours: String,
    pub address: Option<String>,
}

/// A phone number to show and dial: digits, maybe starting with `+` or `(`,
/// with spaces, dashes or brackets between them; 3 to 40 characters.
fn dialable(field: &str, raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let shape = v.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit()
            || (i == 0 && matches!(c, '+' | '('))
            || (i > 0 && matches!(c, ' ' | '-' | '(' | ')'))
    });
    if !shape || digits < 3 || v.chars().count() > 40 || !v.ends_with(|c: char| c.is_ascii_digit())
    {
        return Err(ValidationError::new(
            field,
            "must be a number to dial: digits, maybe with +, spaces, dashes or brackets (e.g. 12356 or 027-8584 4666)",
        ));
    }
    Ok(v.to_string())
}

impl ResourceInput {
    pub fn validate(&self) -> Result<Resource, ValidationError> {
        Ok(Resource {
            name: text("name", &self.name, 120)?,
            kind: self.kind,
            region: text("region", &self.region, 64)?,
            phone: dialable("phone", &self.phone)?,
            hours: text("hours", &self.hours, 80)?,
            address: self
                .address
                .as_deref()
                .map(|a| text("address", a, 200))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(phone: &str) -> ResourceInput {
        ResourceInput {
            name: "武汉市精神卫生中心".into(),
            kind: ResourceKind::MentalHealthCentre,
            region: "hubei".into(),
            phone: phone.into(),
            hours: "24 小时".into(),
            address: None,
        }
    }

    #[test]
    fn numbers_people_dial_are_kept_as_written() {
        for p in [
            "12356",
            "027-8584 4666",
            "+86 27 8584 4666",
            "(027) 85844666",
        ] {
            assert_eq!(input(p).validate().unwrap().phone, p);
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_phone() {
        for p in ["", "12", "call us", "027-", "+", "12356\0", "--123"] {
            assert_eq!(input(p).validate().unwrap_err().field, "phone", "{p:?}");
        }
    }
}
