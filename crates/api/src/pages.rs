//! What the pages for people share: the response headers every page gets
//! (a strict Content Security Policy: nothing but Anxin's own files), and
//! the page language, Chinese (zh-CN) unless the browser or the person asks
//! for English.
use crate::error::{ApiResult, AppError};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

/// Pages may load only what Anxin itself serves.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML page with the headers every page gets.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// The languages of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The cookie the language switch sets.
pub const LANG_COOKIE: &str = "anxin_lang";

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        let primary = s.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Self::Zh),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// `?lang=` first (the switch), then the switch's cookie, then the most
    /// preferred of zh and en in `Accept-Language`; Chinese by default.
    pub fn of(req: &HttpRequest) -> Self {
        let asked = req
            .query_string()
            .split('&')
            .find_map(|pair| pair.strip_prefix("lang="))
            .and_then(Self::parse);
        let remembered = || crate::auth::cookie(req, LANG_COOKIE).and_then(|c| Self::parse(&c));
        let accepted = || {
            let header = req.headers().get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
            Self::preferred(header)
        };
        asked
            .or_else(remembered)
            .or_else(accepted)
            .unwrap_or(Self::Zh)
    }

    /// The most preferred of zh and en in an `Accept-Language` value.
    fn preferred(header: &str) -> Option<Self> {
        let mut best: Option<(f32, usize, Self)> = None;
        for (i, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Self::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Higher q wins; at equal q, the one listed first.
            if q > 0.0 && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                best = Some((q, i, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }

    /// The other language, for the switch.
    pub fn other(self) -> Self {
        match self {
            Self::Zh => Self::En,
            Self::En => Self::Zh,
        }
    }

    /// `zh` or `en`, as `?lang=` takes it.
    pub fn short(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Self::Zh => "中文",
            Self::En => "English",
        }
    }

    /// One text in this language.
    pub fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }
}

/// Renders a page's template as an HTML response with the headers every
/// page gets. A template that fails to render (it can't: every value it
/// shows is a string or a number) answers 500 without detail.
pub fn render(status: StatusCode, page: &impl askama::Template) -> HttpResponse {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// A moment as people in China read it: `12月6日 20:00（北京时间）`, or
/// `6 Dec, 20:00 (Beijing time)`.
pub fn beijing_time(lang: Lang, at: chrono::DateTime<chrono::Utc>) -> String {
    let at = anxin_domain::clock::beijing(at);
    match lang {
        Lang::Zh => at.format("%-m月%-d日 %H:%M（北京时间）").to_string(),
        Lang::En => at.format("%-d %b, %H:%M (Beijing time)").to_string(),
    }
}

/// One sentence on a card (`templates/message.html`): a thank-you, how to
/// sign in, why a link can't be used.
#[derive(askama::Template)]
#[template(path = "message.html")]
pub struct Message<'a> {
    pub lang: Lang,
    pub title: &'a str,
    pub text: &'a str,
    /// The paragraph's id, for tests and scripts.
    pub id: Option<&'a str>,
    /// `alert` for a refusal, `status` for good news.
    pub role: Option<&'a str>,
    /// Shown as a notice (a refusal).
    pub notice: bool,
}

/// One choice of a list on a page: its code, its name, whether chosen.
pub struct Choice {
    pub code: String,
    pub name: String,
    pub chosen: bool,
}

/// `terms` as choices in `lang`, `chosen` marked.
pub fn choices(
    lang: Lang,
    terms: &[anxin_domain::vocabulary::Term],
    chosen: &[&str],
) -> Vec<Choice> {
    terms
        .iter()
        .map(|t| Choice {
            code: t.code.into(),
            name: lang.pick(t.zh, t.en).into(),
            chosen: chosen.contains(&t.code),
        })
        .collect()
}

/// The regions as choices in `lang`, `chosen` (a code) marked.
pub fn region_choices(
    lang: Lang,
    regions: &anxin_domain::region::Regions,
    chosen: Option<&str>,
) -> Vec<Choice> {
    regions
        .all()
        .iter()
        .map(|r| Choice {
            code: r.code.clone(),
            name: match lang {
                Lang::Zh => r.name_zh.clone(),
                Lang::En => r.name_en.clone(),
            },
            chosen: chosen == Some(r.code.as_str()),
        })
        .collect()
}

/// Every field of an `application/x-www-form-urlencoded` body, decoded, in
/// order (by `serde_urlencoded`, what actix's `web::Form` uses); a body that
/// does not decode has none.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// Every value of one field of an `application/x-www-form-urlencoded` body
/// (a group of checkboxes sends one per box), decoded.
pub fn form_values(body: &[u8], name: &str) -> Vec<String> {
    form_pairs(body)
        .into_iter()
        .filter_map(|(k, v)| (k == name).then_some(v))
        .collect()
}

/// The first value of one form field.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_values(body, name).into_iter().next()
}

#[utoipa::path(get, path = "/assets/{name}", tag = "pages",
    description = "Every page's own scripts, style sheets and icon, one place for all of \
                   them (the dashboard, the expert portal, the seeker app, /org, /supervise).",
    params(("name" = String, Path, description = "ops.js, ops.css, expert.js, expert.css, app.js, app.css, org.js, supervise.js or anxin.svg",
            pattern = r"^(ops\.js|ops\.css|expert\.js|expert\.css|app\.js|app\.css|org\.js|supervise\.js|anxin\.svg)$")),
    responses((status = 200, description = "the asset",
               content((String = "text/javascript"), (String = "text/css"), (String = "image/svg+xml")))))]
pub async fn asset(name: web::Path<String>) -> ApiResult<HttpResponse> {
    let (body, content_type) = match name.as_str() {
        "ops.js" => (
            include_str!("../assets/ops.js"),
            "text/javascript; charset=utf-8",
        ),
        "ops.css" => (include_str!("../assets/ops.css"), "text/css; charset=utf-8"),
        "anxin.svg" => (include_str!("../assets/anxin.svg"), "image/svg+xml"),
        "expert.js" => (
            include_str!("../assets/expert.js"),
            "text/javascript; charset=utf-8",
        ),
        "expert.css" => (
            include_str!("../assets/expert.css"),
            "text/css; charset=utf-8",
        ),
        "app.js" => (
            include_str!("../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (include_str!("../assets/app.css"), "text/css; charset=utf-8"),
        "org.js" => (
            include_str!("../assets/org.js"),
            "text/javascript; charset=utf-8",
        ),
        "supervise.js" => (
            include_str!("../assets/supervise.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return Err(AppError::NotFound("asset").into()),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn lang(accept: &str, uri: &str) -> Lang {
        Lang::of(
            &TestRequest::get()
                .uri(uri)
                .insert_header((header::ACCEPT_LANGUAGE, accept))
                .to_http_request(),
        )
    }

    #[test]
    fn chinese_unless_english_is_preferred_or_asked_for() {
        assert_eq!(lang("", "/"), Lang::Zh);
        assert_eq!(lang("fr-FR, de", "/"), Lang::Zh);
        assert_eq!(lang("en-US,en;q=0.9", "/"), Lang::En);
        assert_eq!(lang("zh-CN,zh;q=0.9,en;q=0.8", "/"), Lang::Zh);
        assert_eq!(lang("en;q=0.5, zh-TW;q=0.8", "/"), Lang::Zh);
        assert_eq!(lang("fr, en;q=0.3", "/"), Lang::En);
        assert_eq!(lang("zh-CN", "/?lang=en"), Lang::En);
        assert_eq!(lang("en", "/?x=1&lang=zh"), Lang::Zh);
    }

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(
            form_field(b"a=1&token=ab.c%2Dd+e", "token").as_deref(),
            Some("ab.c-d e")
        );
        assert_eq!(form_field(b"token=", "token").as_deref(), Some(""));
        assert_eq!(form_field(b"x=1", "token"), None);
        // A broken escape is kept as sent; what reads the field checks it.
        assert_eq!(form_field(b"token=%G1", "token").as_deref(), Some("%G1"));
    }

    #[test]
    fn a_checkbox_group_sends_every_value() {
        assert_eq!(form_values(b"l=zh&x=1&l=en", "l"), ["zh", "en"]);
    }
}
