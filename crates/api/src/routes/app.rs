//! The reference seeker app, `/app`: one small page (its script and style
//! sheet are static assets) that a host app opens with the seeker's token
//! in the URL fragment, `/app#token=<jwt>`. The fragment never reaches a
//! server or a log; the script keeps the token in the tab's session storage
//! and does everything through the public API, as any client would. The
//! only thing the page carries from the server is the operator's crisis
//! lines, for anyone in danger now.
use crate::pages::{self, escape, Lang};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

const APP_HTML: &str = include_str!("../../assets/app.html");

#[utoipa::path(get, path = "/app", tag = "seekers",
    description = "The reference seeker app for a seeker's browser, in Chinese (default) or \
                   English (`Accept-Language`, `?lang=zh|en`). The host app opens it with the \
                   seeker's token in the fragment: `/app#token=<jwt>`.",
    responses((status = 200, description = "the app", content_type = "text/html")))]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = Lang::of(&req);
    pages::html(
        StatusCode::OK,
        APP_HTML
            .replace("{{lang}}", lang.tag())
            .replace("{{crisis}}", &escape(&state.config.crisis_lines)),
    )
}
