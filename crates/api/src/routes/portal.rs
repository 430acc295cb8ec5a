//! The expert portal's page, `/expert`: the portal itself for a signed-in
//! expert, otherwise a page saying how to sign in (with the link the
//! hotline sent). The portal's script does everything else through the
//! public API with the session cookie.
use crate::auth::{Credential, Role};
use crate::error::{ApiResult, AppError, ErrorBody};
use crate::pages::{self, Lang};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

fn signed_out_page(lang: Lang) -> HttpResponse {
    pages::render(
        StatusCode::OK,
        &pages::Message {
            lang,
            title: lang.t("portal", "Expert sign-in"),
            text: lang.t("portal", "Open the sign-in link the hotline's staff sent you. Each link works once; if yours no longer does, ask for a new one."),
            id: None,
            role: None,
            notice: false,
        },
    )
}

/// The portal (`templates/expert.html`); its script draws the rest.
#[derive(askama::Template)]
#[template(path = "expert.html")]
struct Portal {
    lang: Lang,
}

#[utoipa::path(get, path = "/expert", tag = "experts",
    description = "The expert portal for an expert's browser, in Chinese (default) or English \
                   (`Accept-Language`, `?lang=zh|en`): hours, upcoming calls, outcomes. Without \
                   a session, a page saying how to sign in; other roles get 403.",
    responses((status = 200, description = "the portal, or how to sign in", content_type = "text/html"),
              (status = 401, body = ErrorBody, description = "`unauthorized`: an invalid bearer token"),
              (status = 403, body = ErrorBody, description = "`forbidden`: not an expert"),
              (status = 503, body = ErrorBody, description = "`unavailable`: Postgres does not answer")),
    security((), ("bearer" = []), ("session" = [])))]
pub async fn page(req: HttpRequest) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    match crate::auth::credential(&req).await {
        Credential::Valid(p, _) if p.role == Role::Expert => {
            Ok(pages::render(StatusCode::OK, &Portal { lang }))
        }
        Credential::Valid(..) => Err(AppError::Forbidden("the portal is for experts").into()),
        Credential::Invalid(AppError::Unavailable(m), _) => Err(AppError::Unavailable(m).into()),
        Credential::Invalid(e, crate::auth::Via::Bearer) => Err(e.into()),
        Credential::None | Credential::Invalid(..) => {
            let mut res = signed_out_page(lang);
            if let Ok(v) = header::HeaderValue::from_str(&crate::auth::clear_session_cookie(
                crate::auth::is_https(&req),
            )) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(res)
        }
    }
}
