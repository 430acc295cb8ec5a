//! Supervision and training: `/v1/training/…`, an expert's training,
//! supervisor flag and supervisor, `/v1/supervision/debriefs` and the
//! supervisor's page `/supervise`.
use crate::auth::{
    AnyHolder, Authorized, ExpertOrOperator, ExpertOrStaff, OperatorOnly, OperatorOrOrgAdmin,
};
use crate::error::{ApiResult, AppError, ErrorBody, ErrorCode, OrNotFound};
use crate::extract::{path_id, Json};
use crate::pages::{self, Lang};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::ids::ExpertId;
use anxin_domain::referral::SessionOutcome;
use anxin_domain::supervision::{DebriefReason, DebriefStatus, ModuleInput};
use anxin_store::supervision::{DebriefRow, Progress};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModuleCreated {
    pub id: Uuid,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModuleView {
    pub id: Uuid,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub required: bool,
    pub self_attest: bool,
}

#[utoipa::path(post, path = "/v1/training/modules", tag = "supervision", request_body = ModuleInput,
    description = "Defines a training module (audited). Approval of an expert waits until every \
                   required module is complete; a self-attest one the volunteer marks themselves.",
    responses((status = 201, body = ModuleCreated),
              (status = 422, body = ErrorBody, description = "`invalid_input`: a blank title, a link that is not http(s), a body too long; `field` names it")),
    security(("bearer" = [])))]
pub async fn create_module(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    body: Json<ModuleInput>,
) -> ApiResult<HttpResponse> {
    let id = flows::supervision::create_module(&state, &auth.principal, &body.0).await?;
    Ok(HttpResponse::Created().json(ModuleCreated { id }))
}

#[utoipa::path(get, path = "/v1/training/modules", tag = "supervision",
    description = "Every training module, required ones first.",
    responses((status = 200, body = [ModuleView])),
    security(("bearer" = [])))]
pub async fn modules(
    _auth: Authorized<AnyHolder>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let rows = flows::supervision::modules(&state).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|m| ModuleView {
                id: m.id,
                title: m.module.title,
                url: m.module.url,
                body: m.module.body,
                required: m.module.required,
                self_attest: m.module.self_attest,
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TrainingView {
    pub module_id: Uuid,
    pub title: String,
    pub required: bool,
    pub self_attest: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Progress> for TrainingView {
    fn from(p: Progress) -> Self {
        Self {
            module_id: p.module.id,
            title: p.module.module.title,
            required: p.module.module.required,
            self_attest: p.module.module.self_attest,
            url: p.module.module.url,
            completed_at: p.completed_at,
        }
    }
}

#[utoipa::path(get, path = "/v1/experts/{id}/training", tag = "supervision",
    description = "The expert's progress through every module: that expert, their supervisor, \
                   their organisation's administrators and operators (404 for anyone else).",
    params(("id" = Uuid, Path, description = "expert id")),
    responses((status = 200, body = [TrainingView]),
              (status = 404, body = ErrorBody, description = "`not_found`: no such expert, or not one the caller may see")),
    security(("bearer" = [])))]
pub async fn training(
    auth: Authorized<ExpertOrStaff>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let expert = ExpertId(path_id("id", &id)?);
    let rows = flows::supervision::progress(&state, &auth.principal, expert).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(TrainingView::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/v1/experts/{id}/training/{module_id}", tag = "supervision",
    description = "Marks the module complete (audited; again changes nothing): the expert \
                   themselves for a self-attest module only, their supervisor, organisation \
                   administrators or operators for any.",
    params(("id" = Uuid, Path, description = "expert id"),
           ("module_id" = Uuid, Path, description = "training module id")),
    responses((status = 200, body = [TrainingView], description = "the expert's progress, this module complete"),
              (status = 403, body = ErrorBody, description = "`forbidden`: the expert marking a module that is not self-attest"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such expert or module, or not one the caller may see")),
    security(("bearer" = [])))]
pub async fn complete(
    auth: Authorized<ExpertOrStaff>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let expert = ExpertId(path_id("id", &path.0)?);
    let module = path_id("module_id", &path.1)?;
    flows::supervision::complete(&state, &auth.principal, expert, module).await?;
    training(auth, state, web::Path::from(path.0.clone())).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagsInput {
    /// May supervise other experts of their organisation.
    pub supervisor: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FlagsView {
    pub id: Uuid,
    pub supervisor: bool,
}

#[utoipa::path(put, path = "/v1/experts/{id}/flags", tag = "supervision", request_body = FlagsInput,
    description = "Gives or takes the supervisor flag (audited): operators, or the expert's \
                   organisation's administrators. Only an approved expert may be a supervisor.",
    params(("id" = Uuid, Path, description = "expert id")),
    responses((status = 200, body = FlagsView),
              (status = 404, body = ErrorBody, description = "`not_found`: no such expert in the caller's reach"),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: the expert is not approved")),
    security(("bearer" = [])))]
pub async fn flags(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<FlagsInput>,
) -> ApiResult<HttpResponse> {
    let expert = ExpertId(path_id("id", &id)?);
    flows::supervision::set_flag(&state, &auth.principal, expert, body.0.supervisor).await?;
    Ok(HttpResponse::Ok().json(FlagsView {
        id: expert.0,
        supervisor: body.0.supervisor,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupervisorInput {
    /// An approved expert of the same organisation with the supervisor
    /// flag, or null for none.
    pub supervisor_id: Option<Uuid>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SupervisorView {
    pub id: Uuid,
    pub supervisor_id: Option<Uuid>,
}

#[utoipa::path(put, path = "/v1/experts/{id}/supervisor", tag = "supervision", request_body = SupervisorInput,
    description = "Assigns the expert's supervisor, or none (audited): operators, or the \
                   expert's organisation's administrators.",
    params(("id" = Uuid, Path, description = "expert id")),
    responses((status = 200, body = SupervisorView),
              (status = 404, body = ErrorBody, description = "`not_found`: no such expert in the caller's reach"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: `supervisor_id` is not an approved supervisor of the same organisation")),
    security(("bearer" = [])))]
pub async fn supervisor(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<SupervisorInput>,
) -> ApiResult<HttpResponse> {
    let expert = ExpertId(path_id("id", &id)?);
    let supervisor = body.0.supervisor_id.map(ExpertId);
    flows::supervision::assign(&state, &auth.principal, expert, supervisor).await?;
    Ok(HttpResponse::Ok().json(SupervisorView {
        id: expert.0,
        supervisor_id: body.0.supervisor_id,
    }))
}

/// A debrief as its supervisor sees it: the expert and why, never the seeker.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DebriefView {
    pub debrief_id: Uuid,
    pub expert_id: Uuid,
    pub expert_name: String,
    /// The booked session it is about; absent for a help-now call's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<Uuid>,
    /// The help-now call it is about, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_now_id: Option<Uuid>,
    pub reason: DebriefReason,
    pub due_at: DateTime<Utc>,
    pub status: DebriefStatus,
    /// Open past its due time.
    pub overdue: bool,
}

impl From<&DebriefRow> for DebriefView {
    fn from(d: &DebriefRow) -> Self {
        Self {
            debrief_id: d.id,
            expert_id: d.expert_id.0,
            expert_name: d.expert_name.clone(),
            booking_id: d.session.booking().map(|b| b.0),
            help_now_id: d.session.help_now(),
            reason: d.reason,
            due_at: d.due_at,
            status: d.status,
            overdue: d.status == DebriefStatus::Open && d.due_at < Utc::now(),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DebriefQuery {
    /// `open` or `done`; both when absent.
    #[param(required = false, value_type = Option<DebriefStatus>)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/v1/supervision/debriefs", tag = "supervision", params(DebriefQuery),
    description = "Debriefs, soonest due first: a supervisor's experts', an organisation \
                   administrator's organisation's, all for operators; an expert without the \
                   supervisor flag sees their own.",
    responses((status = 200, body = [DebriefView]),
              (status = 400, body = ErrorBody, description = "`invalid_query`: an unknown status")),
    security(("bearer" = [])))]
pub async fn debriefs(
    auth: Authorized<ExpertOrStaff>,
    state: web::Data<AppState>,
    q: web::Query<DebriefQuery>,
) -> ApiResult<HttpResponse> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            DebriefStatus::parse(s).ok_or_else(|| {
                AppError::bad_request(
                    ErrorCode::InvalidQuery,
                    "status: open or done",
                    Some("status"),
                )
            })
        })
        .transpose()?;
    let rows = flows::supervision::debriefs(&state, &auth.principal, status).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(DebriefView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DebriefDone {
    /// The supervisor's note (1 to 4,000 characters), sealed at rest; shown
    /// to nobody through the API.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub note: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DebriefClosed {
    pub debrief_id: Uuid,
    pub status: DebriefStatus,
}

#[utoipa::path(post, path = "/v1/supervision/debriefs/{id}/done", tag = "supervision", request_body = DebriefDone,
    description = "Records the debrief done with the supervisor's sealed note (audited): the \
                   expert's supervisor or an operator.",
    params(("id" = Uuid, Path, description = "debrief id")),
    responses((status = 200, body = DebriefClosed),
              (status = 404, body = ErrorBody, description = "`not_found`: no such debrief, or not the caller's to close"),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: already done"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: the note blank or over 4,000 characters")),
    security(("bearer" = [])))]
pub async fn done(
    auth: Authorized<ExpertOrOperator>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<DebriefDone>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    flows::supervision::done(&state, &auth.principal, id, &body.0.note).await?;
    Ok(HttpResponse::Ok().json(DebriefClosed {
        debrief_id: id,
        status: DebriefStatus::Done,
    }))
}

/// One supervised volunteer on `/supervise`.
pub struct SupervisedCard {
    pub name: String,
    pub suspended: bool,
    pub sessions_this_week: i64,
    pub cap_per_day: Option<i32>,
    pub cap_per_week: Option<i32>,
    /// Recent sessions, newest first: the outcome's words and the wellbeing
    /// answer (1–5) when given.
    pub recent: Vec<(&'static str, Option<i16>)>,
}

/// One debrief on `/supervise`.
pub struct DebriefCard {
    pub id: String,
    pub expert: String,
    pub reason: &'static str,
    pub due: String,
    pub overdue: bool,
}

#[derive(askama::Template)]
#[template(path = "supervise.html")]
struct SupervisePage {
    lang: Lang,
    name: String,
    experts: Vec<SupervisedCard>,
    open: Vec<DebriefCard>,
    done: usize,
}

fn outcome_words(lang: Lang, o: SessionOutcome) -> &'static str {
    match o {
        SessionOutcome::Completed => lang.t("supervision", "completed"),
        SessionOutcome::SeekerAbsent => lang.t("supervision", "seeker absent"),
        SessionOutcome::CutShort => lang.t("supervision", "cut short"),
    }
}

fn reason_words(lang: Lang, r: DebriefReason) -> &'static str {
    match r {
        DebriefReason::EmergencyReferral => lang.t("supervision", "after an emergency referral"),
        DebriefReason::UrgentReferral => lang.t("supervision", "after an urgent referral"),
        DebriefReason::CutShort => lang.t("supervision", "a session cut short"),
        DebriefReason::Requested => lang.t("supervision", "the volunteer asked for one"),
        DebriefReason::AbsentStreak => lang.t("supervision", "three absent seekers in a row"),
    }
}

#[utoipa::path(get, path = "/supervise", tag = "supervision",
    description = "The supervisor's page (zh-CN or English): their volunteers' load this week, \
                   recent outcomes and wellbeing, open and overdue debriefs with a form to record \
                   each done. Without a session, how to sign in; an expert without the supervisor \
                   flag gets a page saying so.",
    responses((status = 200, description = "the page, or how to sign in", content_type = "text/html"),
              (status = 403, body = ErrorBody, description = "`forbidden`: not an expert")),
    security((), ("bearer" = []), ("session" = [])))]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    use crate::auth::{Credential, Role};
    let lang = Lang::of(&req);
    let message = |title, text| {
        pages::render(
            StatusCode::OK,
            &pages::Message {
                lang,
                title,
                text,
                id: None,
                role: None,
                notice: false,
            },
        )
    };
    let principal = match crate::auth::credential(&req).await {
        Credential::Valid(p, _) if p.role == Role::Expert => p,
        Credential::Valid(..) => {
            return Err(AppError::Forbidden("the page is for supervisors").into());
        }
        Credential::Invalid(AppError::Unavailable(m), _) => return Err(AppError::Unavailable(m).into()),
        _ => {
            return Ok(message(
                lang.t("supervision", "Supervisor sign-in"),
                lang.t("supervision", "Open the sign-in link Anxin or your organisation sent you. Each link works once; if yours no longer does, ask for a new one."),
            ))
        }
    };
    let me = principal
        .expert_id()
        .ok_or(AppError::Forbidden("the page is for supervisors"))?;
    let standing = anxin_store::supervision::standing(&state.pool, me).await?;
    if !standing.is_some_and(|s| s.supervisor && s.approved) {
        return Ok(message(
            lang.t("supervision", "This page is for supervisors"),
            lang.t(
                "supervision",
                "You are not a supervisor. Your bookings and hours are on your own page, /expert.",
            ),
        ));
    }
    let me_row = anxin_store::experts::get(&state.pool, me)
        .await
        .or_not_found("expert")?;
    let experts = flows::supervision::supervised(&state, me)
        .await?
        .into_iter()
        .map(|e| SupervisedCard {
            name: e.display_name,
            suspended: e.status == "suspended",
            sessions_this_week: e.sessions_this_week,
            cap_per_day: e.max_sessions_per_day,
            cap_per_week: e.max_sessions_per_week,
            recent: e
                .recent
                .into_iter()
                .map(|(o, w)| (outcome_words(lang, o), w))
                .collect(),
        })
        .collect();
    let debriefs = flows::supervision::debriefs(&state, &principal, None).await?;
    let now = Utc::now();
    let open = debriefs
        .iter()
        .filter(|d| d.status == DebriefStatus::Open)
        .map(|d| DebriefCard {
            id: d.id.to_string(),
            expert: d.expert_name.clone(),
            reason: reason_words(lang, d.reason),
            due: pages::beijing_time(lang, d.due_at),
            overdue: d.due_at < now,
        })
        .collect();
    let done = debriefs
        .iter()
        .filter(|d| d.status == DebriefStatus::Done)
        .count();
    Ok(pages::render(
        StatusCode::OK,
        &SupervisePage {
            lang,
            name: me_row.display_name,
            experts,
            open,
            done,
        },
    ))
}
