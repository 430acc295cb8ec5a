//! HTTP routes: parse, authorize, call a flow, shape the answer.
pub mod app;
pub mod apply;
pub mod bookings;
pub mod experts;
pub mod help_now;
pub mod organisations;
pub mod payments;
pub mod portal;
pub mod referrals;
pub mod regions;
pub mod resources;
pub mod seekers;
pub mod service;
pub mod sign_in;
pub mod supervision;
pub mod vocabulary;
pub mod waitlist;

use crate::error::{AppError, ErrorCode};
use actix_web::http::header::HeaderName;
use actix_web::HttpRequest;

/// The `Idempotency-Key` header, as the document describes it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// Retries with the same key and body return the first result.
    #[param(rename = "Idempotency-Key", value_type = String, required = false,
            min_length = 1, max_length = 200, pattern = "^[!-~]+$")]
    _key: Option<String>,
}

/// The optional `Idempotency-Key` header, validated.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    // A static name: looking a header up by a mixed-case `&str` builds (and
    // allocates) a lower-case name on every request.
    const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).unwrap_or("");
    let valid = !key.is_empty() && key.len() <= 200 && key.chars().all(|c| c.is_ascii_graphic());
    if !valid {
        return Err(AppError::bad_request(
            ErrorCode::InvalidIdempotencyKey,
            "Idempotency-Key must be 1-200 visible ASCII characters",
            Some("Idempotency-Key"),
        ));
    }
    Ok(Some(key.to_string()))
}

/// Opens a sealed note or reason for a response. One that no longer opens
/// (its key retired) is an internal error, never a silent blank.
pub(crate) fn unseal(
    state: &anxin_core::state::AppState,
    sealed: Option<&anxin_store::crypto::Sealed>,
) -> Result<Option<String>, AppError> {
    sealed
        .map(|s| state.cipher.open_text(s))
        .transpose()
        .map_err(AppError::internal)
}
