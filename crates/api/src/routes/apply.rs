//! The public application page, `/apply`: a form anyone can fill in to
//! volunteer as an expert, in Chinese (default) or English. It posts to
//! `POST /apply`, a path of its own that needs no token (a volunteer has
//! none) and is rate-limited per client; the application lands in the
//! `/ops` vetting list exactly as `POST /v1/expert-applications` does, and
//! approving it there makes the applicant's first sign-in link.
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::flows;
use crate::pages::{self, escape, form_field, form_values, Lang};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_domain::expert::{ExpertInput, ExpertStatus};
use anxin_domain::vocabulary::{self, Term};
use anxin_store::audit::Actor;

fn boxes(lang: Lang, name: &str, options: &[Term], ticked: &[String]) -> String {
    options
        .iter()
        .map(|term| {
            let checked = if ticked.iter().any(|t| t == term.code) { " checked" } else { "" };
            format!(
                r#"<label class="tick"><input type="checkbox" name="{name}" value="{value}"{checked}> {label}</label>"#,
                value = term.code,
                label = lang.pick(term.zh, term.en)
            )
        })
        .collect()
}

/// The form, filled with what was sent (escaped), and a notice.
fn form_page(
    lang: Lang,
    status: StatusCode,
    input: &ExpertInput,
    notice: Option<&str>,
) -> HttpResponse {
    let t = |zh, en| lang.pick(zh, en);
    let notice = notice
        .map(|n| format!(r#"<p class="notice" role="alert">{}</p>"#, escape(n)))
        .unwrap_or_default();
    let body = format!(
        r#"<p>{intro}</p>
    {notice}
    <form method="post" action="/apply?lang={lang_q}" class="apply">
      <label for="display_name">{name}</label>
      <input id="display_name" name="display_name" required maxlength="80" value="{display_name}" autocomplete="name">
      <label for="phone">{phone}</label>
      <input id="phone" name="phone" required type="tel" inputmode="tel" placeholder="138 0000 0000" value="{phone_v}" autocomplete="tel">
      <label for="region">{region}</label>
      <input id="region" name="region" required maxlength="64" value="{region_v}" placeholder="{region_eg}">
      <label for="timezone">{tz}</label>
      <input id="timezone" name="timezone" required value="{tz_v}">
      <fieldset><legend>{langs}</legend>{lang_boxes}</fieldset>
      <fieldset><legend>{specs}</legend>{spec_boxes}</fieldset>
      <label for="bio">{bio}</label>
      <textarea id="bio" name="bio" maxlength="2000" rows="4">{bio_v}</textarea>
      <button type="submit" id="apply">{send}</button>
    </form>
    <p class="hint">{after}</p>"#,
        lang_q = lang.pick("zh", "en"),
        intro = t(
            "欢迎加入安心的志愿者团队（心理咨询师、社工）。提交后，工作人员会审核并联系你；通过后你会收到一个登录链接。",
            "Join Anxin's volunteers (psychologists, social workers). Our staff review every application and contact you; once approved you receive a sign-in link."
        ),
        name = t("称呼（来访者会看到）", "Name (seekers see it)"),
        display_name = escape(&input.display_name),
        phone = t("手机号（只有工作人员和呼叫系统使用，来访者看不到）", "Phone (used by staff and the call system only; seekers never see it)"),
        phone_v = escape(&input.phone),
        region = t("所在地区", "Region"),
        region_v = escape(&input.region),
        region_eg = t("例如：湖北", "e.g. hubei"),
        tz = t("时区", "Time zone"),
        tz_v = escape(&input.timezone),
        langs = t("可使用的语言", "Languages you speak"),
        lang_boxes = boxes(lang, "languages", vocabulary::LANGUAGES, &input.languages),
        specs = t("擅长领域", "What you help with"),
        spec_boxes = boxes(lang, "specialties", vocabulary::TOPICS, &input.specialties),
        bio = t("简介（资质、经验）", "About you (qualifications, experience)"),
        bio_v = escape(input.bio.as_deref().unwrap_or("")),
        send = t("提交申请", "Apply"),
        after = t(
            "你的手机号会加密保存，不会显示给来访者。",
            "Your number is stored encrypted and is never shown to seekers."
        ),
    );
    pages::html(
        status,
        pages::card_page(lang, t("申请成为志愿专家", "Volunteer as an expert"), &body),
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
    }
}

#[utoipa::path(get, path = "/apply", tag = "experts",
    description = "The public application form (zh-CN, or English by `Accept-Language` / \
                   `?lang=en`). It posts to `POST /apply`.",
    responses((status = 200, description = "the form", content_type = "text/html")))]
pub async fn page(req: HttpRequest) -> HttpResponse {
    form_page(Lang::of(&req), StatusCode::OK, &blank(), None)
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
    };
    let by = Actor {
        role: "applicant",
        id: "apply page".into(),
    };
    match flows::experts::create(&state, &input, ExpertStatus::Applied, Some(&by)).await {
        Ok(_) => {
            let thanks = lang.pick(
                "谢谢你！申请已收到。工作人员审核后会通过你留下的电话联系你。",
                "Thank you! Your application is in. Our staff will review it and contact you on the number you gave.",
            );
            Ok(pages::html(
                StatusCode::CREATED,
                pages::card_page(
                    lang,
                    lang.pick("申请已提交", "Application sent"),
                    &format!(r#"<p role="status" id="thanks">{thanks}</p>"#),
                ),
            ))
        }
        Err(e @ ApiError::Unprocessable { .. }) if !crate::routes::sign_in::wants_html(&req) => {
            Err(e)
        }
        Err(ApiError::Unprocessable { field, .. }) => {
            let which = match field.as_deref().unwrap_or("") {
                "display_name" => lang.pick("请填写称呼。", "Please give your name."),
                "phone" => lang.pick(
                    "手机号格式不对，请填写 11 位手机号，例如 138 0000 0000。",
                    "That phone number is not valid; write an 11-digit mobile such as 138 0000 0000, or +country code and number.",
                ),
                "timezone" => lang.pick(
                    "时区不对，例如 Asia/Shanghai。",
                    "That time zone is not known, e.g. Asia/Shanghai.",
                ),
                "region" => lang.pick("请填写所在地区。", "Please give your region."),
                f if f.starts_with("languages") => {
                    lang.pick("请至少选择一种语言。", "Please tick at least one language.")
                }
                f if f.starts_with("specialties") => lang.pick(
                    "请至少选择一个擅长领域。",
                    "Please tick at least one thing you help with.",
                ),
                _ => lang.pick("请检查填写的内容。", "Please check what you wrote."),
            };
            Ok(form_page(
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                &input,
                Some(which),
            ))
        }
        Err(e) => Err(e),
    }
}
