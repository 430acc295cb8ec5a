//! `GET /v1/vocabulary?lang=`: the one list of words the pages and host apps
//! read (`domain::vocabulary`), in the language asked for.
use crate::error::{ApiResult, AppError, ErrorBody, ErrorCode};
use actix_web::{http::header, web, HttpResponse};
use anxin_domain::vocabulary::{self, Lang, Term};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VocabularyQuery {
    /// `zh` (the default) or `en`.
    #[param(pattern = "^(zh|en)$", required = false)]
    lang: Option<String>,
}

/// A code and its label.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Word {
    pub code: &'static str,
    pub label: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Vocabulary {
    pub topics: Vec<Word>,
    pub languages: Vec<Word>,
    pub priority_groups: Vec<Word>,
    pub outcomes: Vec<Word>,
    pub urgencies: Vec<Word>,
    pub organisation_kinds: Vec<Word>,
    pub resource_kinds: Vec<Word>,
}

#[utoipa::path(get, path = "/v1/vocabulary", tag = "service", params(VocabularyQuery),
    description = "Every code a page shows (topics, languages, priority groups, session outcomes, \
                   urgencies, organisation and resource kinds) with its label in `lang`. No token.",
    responses((status = 200, body = Vocabulary),
              (status = 400, body = ErrorBody, description = "`invalid_query`: `lang` is neither zh nor en")))]
pub async fn vocabulary(q: web::Query<VocabularyQuery>) -> ApiResult<HttpResponse> {
    let lang = match q.0.lang.as_deref() {
        None => Lang::Zh,
        Some(raw) => Lang::parse(raw).ok_or_else(|| {
            AppError::bad_request(ErrorCode::InvalidQuery, "lang: zh or en", Some("lang"))
        })?,
    };
    let words = |list: &[Term]| {
        list.iter()
            .map(|t| Word {
                code: t.code,
                label: t.label(lang),
            })
            .collect()
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(Vocabulary {
            topics: words(vocabulary::TOPICS),
            languages: words(vocabulary::LANGUAGES),
            priority_groups: words(vocabulary::PRIORITY_GROUPS),
            outcomes: words(vocabulary::OUTCOMES),
            urgencies: words(vocabulary::URGENCIES),
            organisation_kinds: words(vocabulary::ORGANISATION_KINDS),
            resource_kinds: words(vocabulary::RESOURCE_KINDS),
        }))
}
