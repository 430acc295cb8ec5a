//! Request extractors that turn every malformed input into a 400 naming the
//! problem (and the field, where one is at fault), never a 500 or an HTML page.
use crate::error::{ApiError, AppError, ErrorCode};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Bodies are small; anything larger is a client mistake.
const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body. Unlike `web::Json`, a type error names the field path
/// (e.g. `weekly[2].weekday`).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|_| {
                AppError::bad_request(ErrorCode::InvalidBody, "the body could not be read", None)
            })?;
            Ok(Json(json_body(&req, &bytes)?))
        })
    }
}

/// A body already read, as JSON: 415 unless it says it is JSON, 400 when
/// it is larger than 64 KiB or doesn't parse (naming the field at fault).
pub fn json_body<T: DeserializeOwned>(req: &HttpRequest, bytes: &[u8]) -> Result<T, AppError> {
    let is_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if !is_json {
        return Err(AppError::bad_request(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json",
            None,
        ));
    }
    if bytes.len() > BODY_LIMIT {
        return Err(AppError::bad_request(
            ErrorCode::BodyTooLarge,
            "the body is larger than 64 KiB",
            None,
        ));
    }
    parse_json(bytes)
}

/// An optional body: none (or only whitespace) is `None`; anything else
/// must be the JSON `T` (as `json_body`), never silently ignored.
pub fn optional_json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    bytes: &[u8],
) -> Result<Option<T>, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    json_body(req, bytes).map(Some)
}

/// Parses JSON, reporting the path of the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // serde also reads a struct from an array of its fields in order
    // (`[null, null]`); every body here is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(AppError::bad_request(
            ErrorCode::InvalidField,
            "invalid type: sequence, expected a JSON object",
            None,
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (code, field) = if inner.is_syntax() || inner.is_eof() {
            (ErrorCode::MalformedJson, None)
        } else {
            (ErrorCode::InvalidField, (path != ".").then_some(path))
        };
        // serde's message names the expected type or the unknown field; the
        // line/column suffix is noise for an API client.
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        let message = without_echoed_value(&message);
        AppError::BadRequest {
            code,
            message,
            field,
        }
    })
}

/// serde quotes the offending value in type errors ("invalid type: integer
/// `8613812345678`, expected a string"); that value may be a phone number, so
/// it is dropped. Field names quoted elsewhere ("unknown field `x`") stay.
fn without_echoed_value(message: &str) -> String {
    if !(message.starts_with("invalid type:") || message.starts_with("invalid value:")) {
        return message.to_string();
    }
    let Some(open) = message.find('`') else {
        return message.to_string();
    };
    match message[open + 1..].find('`') {
        Some(len) => format!(
            "{}{}",
            message[..open].trim_end(),
            &message[open + 1 + len + 1..]
        ),
        None => message.to_string(),
    }
}

/// Parses a UUID from a path segment.
pub fn path_id(field: &'static str, raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| {
        AppError::bad_request(
            ErrorCode::InvalidId,
            format!("{field} must be a UUID"),
            Some(field),
        )
    })
}

/// Error handlers for actix's own extractors, so nothing they reject falls
/// back to a plain-text body.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|err, _| {
        ApiError(AppError::bad_request(
            ErrorCode::InvalidQuery,
            err.to_string(),
            None,
        ))
        .into()
    }))
    .app_data(web::PathConfig::default().error_handler(|err, _| {
        ApiError(AppError::bad_request(
            ErrorCode::InvalidPath,
            err.to_string(),
            None,
        ))
        .into()
    }));
}
