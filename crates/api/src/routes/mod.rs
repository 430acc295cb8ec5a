//! HTTP routes: parse, authorize, call a flow, shape the answer.
pub mod bookings;
pub mod experts;
pub mod seekers;
pub mod service;

use crate::error::ApiError;
use actix_web::HttpRequest;

/// The optional `Idempotency-Key` header, validated.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).unwrap_or("");
    let valid = !key.is_empty() && key.len() <= 200 && key.chars().all(|c| c.is_ascii_graphic());
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-200 visible ASCII characters",
            Some("Idempotency-Key"),
        ));
    }
    Ok(Some(key.to_string()))
}
