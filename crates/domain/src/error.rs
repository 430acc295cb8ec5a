//! The one error a rule raises when input breaks it: which field, and why.

/// A rule broken by input. `field` names the input at fault (JSON path style,
/// e.g. `weekly[3].end`) so the API can return it as-is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
