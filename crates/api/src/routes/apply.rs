//! The public application page, `/apply`: a form anyone can fill in to
//! volunteer as an expert, in Chinese (default) or English. It posts to
//! `POST /apply`, a path of its own that needs no token (a volunteer has
//! none) and is rate-limited per client; the application lands in the
//! `/ops` vetting list exactly as `POST /v1/expert-applications` does, and
//! approving it there makes the applicant's first sign-in link.
use crate::error::{ApiResult, AppError, AppResult, ErrorBody};
use crate::pages::{self, choices, form_field, form_values, region_choices, Choice, Lang};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::expert::{ExpertInput, ExpertStatus};
use anxin_domain::region::Regions;
use anxin_domain::vocabulary;
use anxin_store::audit::Actor;
use anxin_store::organisations::OrganisationRow;

fn strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// The form (`templates/apply.html`).
#[derive(askama::Template)]
#[template(path = "apply.html")]
struct ApplyForm<'a> {
    lang: Lang,
    title: &'a str,
    input: &'a ExpertInput,
    bio: &'a str,
    notice: Option<&'a str>,
    regions: Vec<Choice>,
    languages: Vec<Choice>,
    topics: Vec<Choice>,
    /// The organisation applied to (`/apply?org=<id>`): id and name.
    organisation: Option<(String, String)>,
}

/// The form, filled with what was sent, and a notice.
fn form_page(
    lang: Lang,
    status: StatusCode,
    input: &ExpertInput,
    notice: Option<&str>,
    regions: &Regions,
    organisation: Option<&OrganisationRow>,
) -> HttpResponse {
    let chosen = regions
        .resolve("region", &input.region)
        .ok()
        .or_else(|| organisation.and_then(|o| regions.get(&o.region)))
        .map(|r| r.code.clone());
    pages::render(
        status,
        &ApplyForm {
            lang,
            title: lang.t("apply", "Volunteer as an expert"),
            input,
            bio: input.bio.as_deref().unwrap_or(""),
            notice,
            regions: region_choices(lang, regions, chosen.as_deref()),
            languages: choices(lang, vocabulary::LANGUAGES, &strs(&input.languages)),
            topics: choices(lang, vocabulary::TOPICS, &strs(&input.specialties)),
            organisation: organisation.map(|o| (o.id.to_string(), o.name.clone())),
        },
    )
}

/// The form's fields, as the document describes them (the handler reads
/// them into an `ExpertInput` and applies its rules).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApplicationForm {
    #[schema(min_length = 1, max_length = 80)]
    display_name: String,
    /// A Chinese mobile as people write it (`138 0000 0000`) or an international
    /// number starting with `+`.
    phone: String,
    /// An IANA time zone, e.g. `Asia/Shanghai`.
    timezone: String,
    #[schema(min_items = 1, max_items = 10)]
    languages: Vec<String>,
    #[schema(min_items = 1, max_items = 20)]
    specialties: Vec<String>,
    #[schema(min_length = 1, max_length = 64)]
    region: String,
    #[schema(max_length = 2000)]
    bio: Option<String>,
}

fn blank() -> ExpertInput {
    ExpertInput {
        display_name: String::new(),
        phone: String::new(),
        timezone: "Asia/Shanghai".into(),
        languages: vec!["zh".into()],
        specialties: Vec::new(),
        region: String::new(),
        bio: None,
        organisation_id: None,
    }
}

#[utoipa::path(get, path = "/apply", tag = "experts",
    description = "The public application form (zh-CN, or English by `Accept-Language` / \
                   `?lang=en`). It posts to `POST /apply`.",
    responses((status = 200, description = "the form", content_type = "text/html")))]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let regions = flows::regions::all(&state).await?;
    let asked = req
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("org="))
        .map(str::to_owned);
    let organisation = organisation_of(&state, asked.as_deref()).await;
    let notice = match (&asked, &organisation) {
        (Some(_), Err(_)) => Some(lang.t(
            "apply",
            "That organisation is not taking applications; you can apply to Anxin directly.",
        )),
        _ => None,
    };
    Ok(form_page(
        lang,
        StatusCode::OK,
        &blank(),
        notice,
        &regions,
        organisation.ok().flatten().as_ref(),
    ))
}

/// The approved organisation `raw` (an id) names; `Ok(None)` when none is
/// named, `Err` when it names none that takes volunteers.
async fn organisation_of(
    state: &AppState,
    raw: Option<&str>,
) -> AppResult<Option<OrganisationRow>> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let id = uuid::Uuid::parse_str(raw).map_err(|_| {
        anxin_domain::error::ValidationError::new("organisation_id", "must be an organisation's id")
    })?;
    Ok(Some(
        flows::organisations::open_to_volunteers(state, id).await?,
    ))
}

#[utoipa::path(post, path = "/apply", tag = "experts",
    description = "Sends an application from the form (`application/x-www-form-urlencoded`, \
                   the fields of `ExpertInput`; `languages` and `specialties` once per value). \
                   Needs no token; rate-limited per client. 201 with a thank-you page; a field \
                   that breaks a rule gets the form again (422), filled in, saying which.",
    request_body(content = ApplicationForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, description = "received; it is in the operators' vetting list", content_type = "text/html"),
              (status = 422, description = "`invalid_input`: a field breaks a rule; a browser (`Accept: text/html`) gets the form again, filled in, saying which",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 429, body = ErrorBody, description = "`rate_limited`: too many applications from this client",
               headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
              (status = 503, body = ErrorBody, description = "`unavailable`: Postgres does not answer")))]
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    crate::routes::sign_in::check_rate(&req, &state.application_limiter)?;
    let field = |name| form_field(&body, name).unwrap_or_default();
    let bio = field("bio");
    let input = ExpertInput {
        display_name: field("display_name"),
        phone: field("phone"),
        timezone: field("timezone"),
        languages: form_values(&body, "languages"),
        specialties: form_values(&body, "specialties"),
        region: field("region"),
        bio: (!bio.trim().is_empty()).then_some(bio),
        organisation_id: None,
    };
    let by = Actor {
        role: "applicant",
        id: "apply page".into(),
    };
    let (organisation, created) =
        match organisation_of(&state, form_field(&body, "organisation_id").as_deref()).await {
            Ok(organisation) => {
                let input = ExpertInput {
                    organisation_id: organisation.as_ref().map(|o| o.id),
                    ..input.clone()
                };
                let created =
                    flows::experts::create(&state, &input, ExpertStatus::Applied, Some(&by)).await;
                (organisation, created)
            }
            Err(e) => (None, Err(e)),
        };
    match created {
        Ok(_) => {
            let thanks = lang.t("apply", "Thank you! Your application is in. Our staff will review it and contact you on the number you gave.");
            Ok(pages::render(
                StatusCode::CREATED,
                &pages::Message {
                    lang,
                    title: lang.t("apply", "Application sent"),
                    text: thanks,
                    id: Some("thanks"),
                    role: Some("status"),
                    notice: false,
                },
            ))
        }
        Err(e @ AppError::Unprocessable { .. }) if !crate::routes::sign_in::wants_html(&req) => {
            Err(e.into())
        }
        Err(AppError::Unprocessable { field, .. }) => {
            let which = match field.as_deref().unwrap_or("") {
                "display_name" => lang.t("apply", "Please give your name."),
                "phone" => lang.t("apply", "That phone number is not valid; write an 11-digit mobile such as 138 0000 0000, or +country code and number."),
                "timezone" => lang.t("apply", "That time zone is not known, e.g. Asia/Shanghai."),
                "region" => lang.t("apply", "Please choose your province."),
                "organisation_id" => lang.t("apply", "That organisation is not taking applications; you can apply to Anxin directly."),
                f if f.starts_with("languages") => {
                    lang.t("apply", "Please tick at least one language.")
                }
                f if f.starts_with("specialties") => lang.t("apply", "Please tick at least one thing you help with."),
                _ => lang.t("apply", "Please check what you wrote."),
            };
            Ok(form_page(
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                &input,
                Some(which),
                &*flows::regions::all(&state).await?,
                organisation.as_ref(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
