//! What the pages for people share: the response headers every page gets
//! (a strict Content Security Policy: nothing but Anxin's own files), and
//! the page language, Chinese (zh-CN) unless the browser or the person asks
//! for English.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

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
        let remembered = || crate::auth::cookie(req, LANG_COOKIE).and_then(Self::parse);
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

    /// One text in this language.
    pub fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }
}

/// A small page for people (a sign-in link's, "how to sign in"): a card
/// with the brand, a title, `body` (HTML made by the caller from its own
/// texts) and the switch to the other language.
pub fn card_page(lang: Lang, title: &str, body: &str) -> String {
    let (other_tag, other_name) = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    format!(
        r#"<!doctype html>
<html lang="{tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/ops/assets/anxin.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ops/assets/ops.css">
</head>
<body class="signin">
<main>
  <div class="signin-box">
    <div class="brand"><img src="/ops/assets/anxin.svg" alt="" width="36" height="36"><span>{brand}</span></div>
    <h1>{title}</h1>
    {body}
    <p class="hint"><a href="?lang={other_tag}" lang="{other_tag}">{other_name}</a></p>
  </div>
</main>
</body>
</html>
"#,
        tag = lang.tag(),
        title = escape(title),
        brand = lang.pick("安心", "Anxin"),
    )
}

/// Every field of an `application/x-www-form-urlencoded` body, decoded, in
/// order; a pair that does not decode is left out.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
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

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Escapes text for HTML element content and attribute values.
/// Adds to a page made by `card_page` a move to `to` after `secs` seconds
/// (a `<meta http-equiv="refresh">`, which needs no script); `None` leaves it.
pub fn with_refresh(page: String, after: Option<(u32, &str)>) -> String {
    match after {
        Some((secs, to)) => page.replacen(
            "</head>",
            &format!(
                r#"<meta http-equiv="refresh" content="{secs};url={}">
</head>"#,
                escape(to)
            ),
            1,
        ),
        None => page,
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
        assert_eq!(form_field(b"token=%G1", "token"), None);
    }

    #[test]
    fn a_checkbox_group_sends_every_value() {
        assert_eq!(form_values(b"l=zh&x=1&l=en", "l"), ["zh", "en"]);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
