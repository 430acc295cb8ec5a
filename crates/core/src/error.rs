//! The one error type of the use cases: what went wrong, in terms a client
//! can act on (a stable code, a message, the field at fault), with no
//! transport in it. The HTTP edge (`anxin_api::error`) maps each variant to
//! a status code and the `{"error", "message", "field"?}` body in one place.
//! Internal failures keep their cause for the log and say nothing else, so
//! no stored value (a phone, a subject) can leak through one.
use anxin_domain::ValidationError;
use serde::Serialize;
use std::time::Duration;

/// Every error code the API answers with, in one list: use cases and
/// handlers name a variant, the body carries its snake_case form, and the
/// OpenAPI document lists them all (`ErrorBody::error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not JSON at all.
    MalformedJson,
    /// A field of the body has the wrong type, or is unknown or missing.
    InvalidField,
    /// The body is missing or unreadable.
    InvalidBody,
    BodyTooLarge,
    UnsupportedMediaType,
    /// A path segment that should be an id is not a UUID.
    InvalidId,
    InvalidPath,
    InvalidQuery,
    InvalidIdempotencyKey,
    /// Well-formed, but a value breaks a rule (`field` says which).
    InvalidInput,
    IdempotencyMismatch,
    Unauthorized,
    /// The token's account is suspended (an expert) or disabled (an
    /// operator).
    AccountSuspended,
    Forbidden,
    NotFound,
    /// The slot is held, booked, held back for priority groups, or too late.
    SlotUnavailable,
    HoldLimit,
    /// The hold lapsed or was released (or Redis lost it).
    HoldExpired,
    /// The hold was already confirmed into a booking.
    HoldConfirmed,
    BookingLimit,
    BookingNotActive,
    /// The hold's fee is not paid yet (`POST /v1/holds/{id}/payment`).
    PaymentRequired,
    InvalidTransition,
    /// Approval waits for the expert's required training modules.
    TrainingIncomplete,
    /// The seeker already has as many waitlist entries as allowed.
    WaitlistLimit,
    /// The seeker is already waiting for (or talking to) someone now.
    HelpNowActive,
    /// No expert is on duty: the answer names the earliest bookable slot
    /// and the seeker's region's hotlines.
    NobodyOnDuty,
    /// A request made with the session cookie that changes something lacks
    /// `X-Anxin-Session: 1`.
    Csrf,
    SignInLinkUsed,
    SignInLinkExpired,
    /// A sign-in link was asked for a suspended expert.
    ExpertSuspended,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// Every code, for the test that the document lists each one.
    pub const ALL: [ErrorCode; 34] = [
        Self::MalformedJson,
        Self::InvalidField,
        Self::InvalidBody,
        Self::BodyTooLarge,
        Self::UnsupportedMediaType,
        Self::InvalidId,
        Self::InvalidPath,
        Self::InvalidQuery,
        Self::InvalidIdempotencyKey,
        Self::InvalidInput,
        Self::IdempotencyMismatch,
        Self::Unauthorized,
        Self::AccountSuspended,
        Self::Forbidden,
        Self::NotFound,
        Self::SlotUnavailable,
        Self::HoldLimit,
        Self::HoldExpired,
        Self::HoldConfirmed,
        Self::BookingLimit,
        Self::BookingNotActive,
        Self::PaymentRequired,
        Self::InvalidTransition,
        Self::TrainingIncomplete,
        Self::WaitlistLimit,
        Self::HelpNowActive,
        Self::NobodyOnDuty,
        Self::Csrf,
        Self::SignInLinkUsed,
        Self::SignInLinkExpired,
        Self::ExpertSuspended,
        Self::RateLimited,
        Self::Unavailable,
        Self::Internal,
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed request: bad JSON, wrong types, bad ids or query values.
    #[error("{message}")]
    BadRequest {
        code: ErrorCode,
        message: String,
        field: Option<String>,
    },
    /// Well-formed but breaks a rule (e.g. an invalid phone number).
    #[error("{message}")]
    Unprocessable {
        code: ErrorCode,
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A valid token whose account was suspended or disabled.
    #[error("this account is suspended or disabled")]
    AccountSuspended,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(
        "send X-Anxin-Session: 1 with requests that change something made with the session cookie"
    )]
    Csrf,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The hold's fee must be paid before it can be booked.
    #[error("{0}")]
    PaymentRequired(&'static str),
    /// What the request names is gone for good (a used or expired link).
    #[error("{message}")]
    Gone { code: ErrorCode, message: String },
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    /// A dependency (Postgres, Redis) does not answer: the client may retry
    /// after `RETRY_UNAVAILABLE`. Says which in the message, never why.
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>, field: Option<&str>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. } => *code,
            Self::Csrf => ErrorCode::Csrf,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::AccountSuspended => ErrorCode::AccountSuspended,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::PaymentRequired(_) => ErrorCode::PaymentRequired,
            Self::TooManyRequests { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        Self::Unprocessable {
            code: ErrorCode::InvalidInput,
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

/// What a 503 asks the client to wait before retrying: dependency outages
/// here are restarts, over in seconds.
pub const RETRY_UNAVAILABLE: Duration = Duration::from_secs(1);

impl From<anxin_store::StoreError> for AppError {
    fn from(e: anxin_store::StoreError) -> Self {
        match e {
            anxin_store::StoreError::NotFound => Self::NotFound("record"),
            e if e.is_outage() => {
                tracing::warn!(error = %e, "postgres unavailable");
                Self::Unavailable("the database is unavailable; try again shortly")
            }
            other => Self::internal(other),
        }
    }
}

impl From<anxin_reserve::ReserveError> for AppError {
    fn from(e: anxin_reserve::ReserveError) -> Self {
        if e.is_outage() {
            tracing::warn!(error = %e, "redis unavailable");
            return Self::Unavailable("the reservation index is unavailable; try again shortly");
        }
        Self::internal(e)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// For a store lookup of something the caller named: its `NotFound` becomes
/// a 404 naming what is missing (`"expert"`, `"slot"`, …); any other store
/// error maps as usual.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &'static str) -> AppResult<T>;
}

impl<T> OrNotFound<T> for Result<T, anxin_store::StoreError> {
    fn or_not_found(self, what: &'static str) -> AppResult<T> {
        self.map_err(|e| match e {
            anxin_store::StoreError::NotFound => AppError::NotFound(what),
            e => e.into(),
        })
    }
}
