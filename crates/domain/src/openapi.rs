//! Named schemas for the text values the domain parses, so the API document
//! states the rules `validate` enforces (`expert::tag`, `parse_timezone`,
//! `parse_hhmm`, `PhoneNumber::parse`) instead of a bare `string`. Each
//! pattern accepts only input its parser accepts; where the parser is more
//! lenient (surrounding whitespace, phone separators) the pattern describes
//! the canonical form.
use crate::availability::OverrideInput;
use std::borrow::Cow;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

macro_rules! text_schema {
    ($(#[$doc:meta])* $name:ident, $describe:expr, $build:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let build: fn(ObjectBuilder) -> ObjectBuilder = $build;
                build(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some($describe)),
                )
                .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

text_schema!(
    /// A language or specialty tag (`expert::tag`).
    Tag,
    "A language or specialty tag: 1-40 letters, digits, '-' or '_' (compared lower-cased).",
    |s| s.pattern(Some("^[A-Za-z0-9_-]{1,40}$"))
);

text_schema!(
    /// An IANA time zone name (`availability::parse_timezone`).
    TimeZone,
    "An IANA time zone name, e.g. `Asia/Shanghai`.",
    |s| s.enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
);

text_schema!(
    /// A local time of day, `HH:MM` (`availability::parse_hhmm`).
    LocalTime,
    "A local time of day, `HH:MM` from `00:00` to `24:00` (the end of the day).",
    |s| s.pattern(Some("^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))
);

text_schema!(
    /// A phone number as people write it (`PhoneNumber::parse`).
    Phone,
    "A Chinese mobile as people write it (`13712345678`, `137 1234 5678`, `+86 137 1234 5678`), \
     or any number in international form: `+`, then 7 to 15 digits (spaces, dashes and \
     parentheses between them are ignored). Stored as E.164, e.g. `+8613712345678`. The \
     pattern describes the common forms; the parser also takes Chinese landlines and `00`.",
    |s| s.pattern(Some(
        r"^(1[3-9][0-9]{9}|\+86 ?1[3-9][0-9]{9}|\+([1-79]|8[0-57-9])[0-9]{5,13})$"
    ))
);

/// `validate` takes an override in one of two shapes only, so the schema is
/// those two: a closed day, or a day with hours.
impl PartialSchema for OverrideInput {
    fn schema() -> RefOr<Schema> {
        let day = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "date",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
                )
                .required("date")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let closed = |value: bool| {
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([value]))
        };
        let time = || Ref::from_schema_name(LocalTime::name());
        let closed_day = day()
            .description(Some("closed all day"))
            .property("closed", closed(true))
            .required("closed");
        let hours = day()
            .description(Some(
                "open from `start` to `end` (after `start`, at least one slot long)",
            ))
            .property("closed", closed(false))
            .property("start", time())
            .required("start")
            .property("end", time())
            .required("end");
        OneOfBuilder::new()
            .description(Some("One date's hours instead of its weekday's."))
            .item(closed_day)
            .item(hours)
            .into()
    }
}

impl ToSchema for OverrideInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((LocalTime::name().into_owned(), LocalTime::schema()));
    }
}
