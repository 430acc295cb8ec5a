//! Values that are stored and sent by name: statuses, call states, outcomes,
//! groups. One macro gives each such enum its names, so the names the API
//! shows, the names Postgres keeps and the names parsed back are the same
//! list, and a name that isn't on it is an error, never a default.

/// A stored or received name that is not one of a type's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

/// Declares a fieldless enum with the name of each variant, and gives it
/// `ALL`, `as_str`, `parse`, `Display` and `TryFrom<String>` (which the
/// store's rows decode through). The names are written once, beside their
/// variants.
#[macro_export]
macro_rules! named {
    (
        $(#[$meta:meta])*
        $vis:vis enum $ty:ident as $what:literal {
            $($(#[$vmeta:meta])* $variant:ident = $name:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $ty {
            $($(#[$vmeta])* $variant),+
        }

        impl $ty {
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::convert::TryFrom<String> for $ty {
            type Error = $crate::named::UnknownName;
            fn try_from(value: String) -> ::std::result::Result<Self, Self::Error> {
                Self::parse(&value).ok_or($crate::named::UnknownName { what: $what, value })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::UnknownName;
    use crate::booking::BookingStatus;
    use crate::call::{CallOutcome, CallState};
    use crate::expert::ExpertStatus;
    use crate::seeker::PriorityGroup;
    use serde::{de::DeserializeOwned, Serialize};
    use std::fmt::Debug;

    /// Every value's name is what serde writes, parses back to the value, and
    /// a name not on the list is refused with what it was.
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy
            + Debug
            + PartialEq
            + Serialize
            + DeserializeOwned
            + TryFrom<String, Error = UnknownName>,
    {
        for &v in all {
            let name = as_str(v);
            assert_eq!(serde_json::to_value(v).ok(), Some(serde_json::json!(name)));
            assert_eq!(T::try_from(name.to_string()), Ok(v));
        }
        let refused = T::try_from("scheduledd".to_string()).err();
        assert_eq!(refused.map(|e| e.value), Some("scheduledd".to_string()));
    }

    #[test]
    fn names_are_serdes_names_and_parse_back() {
        round_trips(&BookingStatus::ALL, BookingStatus::as_str);
        round_trips(&CallState::ALL, CallState::as_str);
        round_trips(&CallOutcome::ALL, CallOutcome::as_str);
        round_trips(&ExpertStatus::ALL, ExpertStatus::as_str);
        round_trips(&PriorityGroup::ALL, PriorityGroup::as_str);
    }
}
