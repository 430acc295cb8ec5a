//! The token fee: a hold's payment, a payment's status, and the simulated
//! provider's page (development only).
use crate::auth::{AnyRole, Authorized, Role, SeekerSession};
use crate::error::{ApiResult, AppError, ErrorBody};
use crate::extract::path_id;
use crate::pages::{self, Lang};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::ids::{HoldId, PaymentId};
use anxin_domain::payment::{yuan, PaymentStatus, ProviderName};
use anxin_store::payments::{MarkPaid, PaymentRow};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A hold's payment, with where to pay it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PaymentStarted {
    pub payment_id: Uuid,
    pub status: PaymentStatus,
    /// In the currency's smallest unit (fen): 1 is 0.01 CNY.
    pub amount_minor: i32,
    pub currency: String,
    pub provider: ProviderName,
    /// Where the seeker pays: the simulated page in development, the
    /// provider's cashier in production.
    pub pay_url: String,
    /// Pay before this; the hold lasts at least as long.
    pub expires_at: DateTime<Utc>,
    /// True for the simulated provider: no money moves.
    pub simulated: bool,
}

/// A payment's status.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub payment_id: Uuid,
    pub status: PaymentStatus,
    pub amount_minor: i32,
    pub currency: String,
    pub provider: ProviderName,
    pub simulated: bool,
    pub expires_at: DateTime<Utc>,
    /// The booking made from the payment's hold, once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<Uuid>,
}

impl From<PaymentRow> for PaymentView {
    fn from(p: PaymentRow) -> Self {
        Self {
            payment_id: p.id.0,
            status: p.status,
            amount_minor: p.amount_minor,
            currency: p.currency,
            provider: p.provider,
            simulated: p.provider == ProviderName::Simulated,
            expires_at: p.expires_at,
            booking_id: p.booking_id.map(|b| b.0),
        }
    }
}

#[utoipa::path(post, path = "/v1/holds/{id}/payment", tag = "seekers",
    description = "Creates the hold's payment of the booking fee, or returns the one it has \
                   (200). The hold lasts at least until the payment's `expires_at`; once paid, \
                   `POST /v1/bookings` books it.",
    params(("id" = uuid::Uuid, Path, description = "hold id")),
    responses((status = 201, body = PaymentStarted),
              (status = 200, body = PaymentStarted, description = "the hold's payment, made before"),
              (status = 409, body = ErrorBody, description = "`hold_expired`: the hold is gone; `invalid_transition`: no fee is taken here")),
    security(("bearer" = [])))]
pub async fn start(
    session: SeekerSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let hold = HoldId(path_id("id", &id)?);
    let started = flows::payments::start(&state, &session.seeker, hold).await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let p = started.payment;
    Ok(HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(PaymentStarted {
            payment_id: p.id.0,
            status: p.status,
            amount_minor: p.amount_minor,
            currency: p.currency,
            provider: p.provider,
            pay_url: started.pay_url,
            expires_at: p.expires_at,
            simulated: p.provider == ProviderName::Simulated,
        }))
}

#[utoipa::path(get, path = "/v1/payments/{id}", tag = "seekers",
    description = "The payment's status: its seeker's, or any for an operator (an area's \
                   operator: with an expert of its area).",
    params(("id" = uuid::Uuid, Path, description = "payment id")),
    responses((status = 200, body = PaymentView),
              (status = 404, body = ErrorBody, description = "no such payment of this seeker")),
    security(("bearer" = [])))]
pub async fn get(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = PaymentId(path_id("id", &id)?);
    let payment = match auth.principal.role {
        Role::Operator => {
            let payment = flows::payments::get(&state, id).await?;
            flows::bookings::expert_within_reach(
                &state,
                &auth.principal,
                payment.expert_id,
                "payment",
            )
            .await?;
            payment
        }
        Role::Seeker => {
            let seeker = flows::seekers::resolve_for(&state, &auth.principal).await?;
            flows::payments::of_seeker(&state, &seeker, id).await?
        }
        Role::Expert | Role::OrgAdmin => return Err(AppError::NotFound("payment").into()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(PaymentView::from(payment)))
}

/// The simulated payment, when the simulated provider is the one configured
/// (404 otherwise: production never shows this page).
async fn simulated_payment(state: &AppState, id: &str) -> ApiResult<PaymentRow> {
    let simulated = state
        .payment_step()
        .is_some_and(|p| p.name() == ProviderName::Simulated);
    if !simulated {
        return Err(AppError::NotFound("payment").into());
    }
    let payment = flows::payments::get(state, PaymentId(path_id("payment_id", id)?)).await?;
    if payment.provider != ProviderName::Simulated {
        return Err(AppError::NotFound("payment").into());
    }
    Ok(payment)
}

/// The simulated cashier (`templates/cashier.html`).
#[derive(askama::Template)]
#[template(path = "cashier.html")]
struct Cashier<'a> {
    lang: Lang,
    title: &'a str,
    expert: &'a str,
    /// The slot's start in Beijing time (the service's clock; China keeps
    /// no summer time).
    when: String,
    amount: String,
    status: &'a str,
    notice: Option<&'a str>,
    pending: bool,
    /// Paid: the page moves back to the app by itself (the hold is still
    /// counting down there).
    paid: bool,
}

fn simulated_page(
    lang: Lang,
    p: &PaymentRow,
    (expert, starts_at): (&str, DateTime<Utc>),
    notice: Option<&str>,
) -> HttpResponse {
    let status = match p.status {
        PaymentStatus::Pending => lang.t("payments", "Waiting for payment"),
        PaymentStatus::Paid => lang.t("payments", "Paid. Taking you back to the booking page: add the number to call and you're done."),
        PaymentStatus::Expired => lang.t("payments", "This payment expired and nothing was charged. Go back to the app to choose a time again."),
        PaymentStatus::Refunded => lang.t("payments", "Refunded in full."),
        PaymentStatus::Failed => lang.t("payments", "The payment did not go through; nothing was charged."),
    };
    pages::render(
        StatusCode::OK,
        &Cashier {
            lang,
            title: lang.t("payments", "Pay the booking fee"),
            expert,
            when: pages::beijing_time(lang, starts_at),
            amount: format!("¥{}", yuan(p.amount_minor)),
            status,
            notice,
            pending: p.status == PaymentStatus::Pending,
            paid: p.status == PaymentStatus::Paid,
        },
    )
}

#[utoipa::path(get, path = "/pay/simulated/{payment_id}", tag = "seekers",
    description = "Development only (the simulated provider): the amount and a Pay button.",
    params(("payment_id" = uuid::Uuid, Path, description = "payment id")),
    responses((status = 200, description = "the page", content_type = "text/html"),
              (status = 404, body = ErrorBody, description = "no such payment, or the simulated provider is not in use")))]
pub async fn simulated_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let payment = simulated_payment(&state, &id).await?;
    let paid_for = flows::payments::paid_for(&state, &payment).await?;
    Ok(simulated_page(
        Lang::of(&req),
        &payment,
        (&paid_for.0, paid_for.1),
        None,
    ))
}

#[utoipa::path(post, path = "/pay/simulated/{payment_id}", tag = "seekers",
    description = "Development only: pays the simulated payment (again: no change).",
    params(("payment_id" = uuid::Uuid, Path, description = "payment id")),
    responses((status = 200, description = "paid", content_type = "text/html"),
              (status = 404, body = ErrorBody, description = "no such payment, or the simulated provider is not in use")))]
pub async fn simulated_pay(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let payment = simulated_payment(&state, &id).await?;
    let marked = flows::payments::record_paid(&state, payment.id, None).await?;
    let payment = flows::payments::get(&state, payment.id).await?;
    let paid_for = flows::payments::paid_for(&state, &payment).await?;
    let lang = Lang::of(&req);
    let notice = (marked == MarkPaid::Paid).then(|| lang.t("payments", "Payment received."));
    Ok(simulated_page(
        lang,
        &payment,
        (&paid_for.0, paid_for.1),
        notice,
    ))
}

/// The notification's main fields, as the document describes them (Alipay
/// sends more; every field but `sign` and `sign_type` is signed).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AlipayNotification {
    notify_id: String,
    notify_time: String,
    app_id: String,
    /// The payment's id.
    out_trade_no: String,
    /// Alipay's own trade number.
    trade_no: Option<String>,
    /// In yuan, e.g. `0.01`.
    total_amount: String,
    /// `TRADE_SUCCESS`, `TRADE_FINISHED`, `WAIT_BUYER_PAY` or `TRADE_CLOSED`.
    trade_status: String,
    /// `RSA2`.
    sign_type: String,
    /// Base64 SHA256withRSA signature by Alipay's key.
    sign: String,
}

#[utoipa::path(post, path = "/v1/payments/alipay/notify", tag = "seekers",
    description = "Alipay's asynchronous notification (form-encoded, signed RSA2 with Alipay's key). \
                   Answered with the plain text `success` once verified and recorded; a repeat \
                   changes nothing. A forged or mismatched one (signature, app_id, out_trade_no, \
                   total_amount) is refused and changes nothing.",
    request_body(content = AlipayNotification, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`success`", content_type = "text/plain"),
              (status = 400, body = ErrorBody, description = "`invalid_input`: the notification is refused"),
              (status = 404, body = ErrorBody, description = "Alipay is not the payment provider here")))]
pub async fn alipay_notify(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let fields = pages::form_pairs(&body);
    flows::payments::alipay_notified(&state, &fields).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("success"))
}
