//! Experts: the profile they give, and the vetting life cycle.
use crate::availability::parse_timezone;
use crate::phone::PhoneNumber;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ExpertStatus as "expert status" {
        Applied = "applied",
        Approved = "approved",
        Suspended = "suspended",
    }
}

impl ExpertStatus {
    /// Vetting moves: approve an applicant or a suspended expert; suspend an
    /// approved one (or reject an applicant by suspending). Repeating a move is
    /// allowed and changes nothing, so operators can retry safely.
    pub fn can_become(self, next: ExpertStatus) -> bool {
        self == next || next != Self::Applied
    }
}

/// The request shape of an expert profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpertInput {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 80,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub display_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Phone))]
    pub phone: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::TimeZone))]
    pub timezone: String,
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Vec<crate::openapi::Tag>, min_items = 1, max_items = 10)
    )]
    pub languages: Vec<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Vec<crate::openapi::Tag>, min_items = 1, max_items = 20)
    )]
    pub specialties: Vec<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub region: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 2000,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub bio: Option<String>,
    /// The organisation applied to (`GET /v1/organisations`); its
    /// administrators vet the application. Without one, operators do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone)]
pub struct ExpertProfile {
    pub display_name: String,
    pub phone: PhoneNumber,
    pub timezone: String,
    pub languages: Vec<String>,
    pub specialties: Vec<String>,
    pub region: String,
    pub bio: Option<String>,
}

/// A language or specialty tag: trimmed, lowercased, 1-40 letters, digits,
/// '-' or '_'. The same rule for profiles and for the slate's filters.
pub fn tag(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim().to_lowercase();
    let ok = (1..=40).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(v)
    } else {
        Err(ValidationError::new(
            field,
            "must be 1-40 letters, digits, '-' or '_'",
        ))
    }
}

fn tags(field: &str, values: &[String], max: usize) -> Result<Vec<String>, ValidationError> {
    if values.is_empty() {
        return Err(ValidationError::new(field, "give at least one"));
    }
    if values.len() > max {
        return Err(ValidationError::new(field, format!("at most {max}")));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| tag(&format!("{field}[{i}]"), v))
        .collect()
}

/// A free-text field: trimmed, 1 to `max` characters, and no NUL, which a
/// Postgres `text` column can't hold.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if v.contains('\0') {
        return Err(ValidationError::new(
            field,
            "must not contain NUL characters",
        ));
    }
    Ok(v.to_string())
}

impl ExpertInput {
    /// The profile, checked; a phone written without `+` is read as a
    /// number of `country_code` (`ANXIN_PHONE_COUNTRY_CODE`).
    pub fn validate(&self, country_code: &str) -> Result<ExpertProfile, ValidationError> {
        parse_timezone("timezone", &self.timezone)?;
        Ok(ExpertProfile {
            display_name: text("display_name", &self.display_name, 80)?,
            phone: PhoneNumber::parse_in("phone", &self.phone, country_code)?,
            timezone: self.timezone.clone(),
            languages: tags("languages", &self.languages, 10)?,
            specialties: tags("specialties", &self.specialties, 20)?,
            region: text("region", &self.region, 64)?,
            bio: self
                .bio
                .as_deref()
                .map(|b| text("bio", b, 2000))
                .transpose()?,
        })
    }
}
