//! The HTTP edge of the core's error: each `AppError` answered with its
//! status code and the body `{"error": "<code>", "message": "<text>",
//! "field"?}`, in one place. Internal failures are logged with their cause
//! and answered with a generic message, so no stored value (a phone, a
//! subject) can leak through one.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
pub use anxin_core::error::{AppError, AppResult, ErrorCode, OrNotFound, RETRY_UNAVAILABLE};
use serde::Serialize;

/// An `AppError` on its way out as an HTTP answer; anything that converts
/// into an `AppError` converts into this, so `?` works in handlers.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code.
    pub error: ErrorCode,
    /// Human-readable text.
    pub message: String,
    /// The input field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The status code an `AppError` is answered with.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Unauthorized(_) | AppError::AccountSuspended => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
        AppError::Gone { .. } => StatusCode::GONE,
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let field = match &self.0 {
            AppError::BadRequest { field, .. } | AppError::Unprocessable { field, .. } => {
                field.clone()
            }
            _ => None,
        };
        if let AppError::Internal(source) = &self.0 {
            tracing::error!(error = %source, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        let retry_after = match &self.0 {
            AppError::TooManyRequests { retry_after } => Some(*retry_after),
            AppError::Unavailable(_) => Some(RETRY_UNAVAILABLE),
            _ => None,
        };
        if let Some(wait) = retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        if let AppError::Unauthorized(_) = &self.0 {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(ErrorBody {
            error: self.0.code(),
            message: self.0.to_string(),
            field,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_document_lists_every_code_and_all_names_each_once() {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap_or_default();
        let listed: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .map(|codes| {
                codes
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let all: BTreeSet<String> = ErrorCode::ALL
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_owned))
            .collect();
        assert_eq!(all.len(), ErrorCode::ALL.len(), "a code twice in ALL");
        assert_eq!(listed, all, "ALL and the document's ErrorCode differ");
        assert!(all.contains("hold_confirmed") && all.contains("slot_unavailable"));
    }
}
