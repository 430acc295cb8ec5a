//! Organisations: the vetted services whose volunteers take the calls
//! (national coordination, local management). An organisation applies, an
//! operator approves it into a numbered batch and it is published (公示),
//! or rejects it with a reason; a suspended organisation's experts are
//! suspended with it.
use crate::error::ValidationError;
use crate::expert::text;
use crate::phone::PhoneNumber;
use serde::{Deserialize, Serialize};

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum OrganisationKind as "organisation kind" {
        SocialWork = "social_work",
        Psychological = "psychological",
        Medical = "medical",
        Other = "other",
    }
}

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum OrganisationStatus as "organisation status" {
        Applied = "applied",
        Approved = "approved",
        Rejected = "rejected",
        Suspended = "suspended",
    }
}

/// What `POST /v1/organisation-applications` takes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 120,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub name: String,
    pub kind: OrganisationKind,
    /// A region code or pinyin name.
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
            max_length = 80,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub contact_name: String,
    /// A mobile as people write it (`138 0000 0000`) or `+` and the number.
    pub contact_phone: String,
    /// What the organisation does and for whom.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 2000,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub description: String,
}

/// A checked application (its region still as written; the caller
/// resolves it against the regions).
#[derive(Debug, Clone)]
pub struct OrganisationApplication {
    pub name: String,
    pub kind: OrganisationKind,
    pub region: String,
    pub contact_name: String,
    pub contact_phone: PhoneNumber,
    pub description: String,
}

impl OrganisationInput {
    /// The application, checked; a phone without `+` is read as a number of
    /// `country_code`.
    pub fn validate(&self, country_code: &str) -> Result<OrganisationApplication, ValidationError> {
        Ok(OrganisationApplication {
            name: text("name", &self.name, 120)?,
            kind: self.kind,
            region: text("region", &self.region, 64)?,
            contact_name: text("contact_name", &self.contact_name, 80)?,
            contact_phone: PhoneNumber::parse_in(
                "contact_phone",
                &self.contact_phone,
                country_code,
            )?,
            description: text("description", &self.description, 2000)?,
        })
    }
}

/// Why an application is rejected, as the operator writes it: 1–500
/// characters.
pub fn reject_reason(raw: &str) -> Result<String, ValidationError> {
    text("reason", raw, 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OrganisationInput {
        OrganisationInput {
            name: "武汉市心理咨询师协会".into(),
            kind: OrganisationKind::Psychological,
            region: "hubei".into(),
            contact_name: "张老师".into(),
            contact_phone: "137 1234 5678".into(),
            description: "社区心理援助".into(),
        }
    }

    #[test]
    fn an_application_is_checked_field_by_field() {
        let ok = input().validate("86").unwrap();
        assert_eq!(ok.contact_phone.expose_e164(), "+8613712345678");
        for (field, change) in [
            (
                "name",
                Box::new(|i: &mut OrganisationInput| i.name = " ".into())
                    as Box<dyn Fn(&mut OrganisationInput)>,
            ),
            (
                "contact_phone",
                Box::new(|i| i.contact_phone = "12345".into()),
            ),
            (
                "description",
                Box::new(|i| i.description = "x".repeat(2001)),
            ),
            ("contact_name", Box::new(|i| i.contact_name = "\0".into())),
        ] {
            let mut i = input();
            change(&mut i);
            assert_eq!(i.validate("86").unwrap_err().field, field);
        }
        assert_eq!(reject_reason("").unwrap_err().field, "reason");
    }
}
