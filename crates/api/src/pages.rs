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

    /// The text `key` of the catalogue's `section` (`words.json`) in this
    /// language; a key the catalogue lacks shows as itself (the test of the
    /// catalogue finds every key a template or a handler names).
    pub fn t(self, section: &str, key: &'static str) -> &'static str {
        CATALOGUE.text(section, key, self).unwrap_or(key)
    }

    /// A section of the catalogue in this language, as the JSON object
    /// (key → text) a page's script reads (`assets/words.js`). In English,
    /// entries whose key is their English are left out: the key is the text.
    pub fn words(self, section: &str) -> &'static str {
        CATALOGUE.json(section, self)
    }

    /// A term's name in this language (the vocabulary's labels, which
    /// `domain` keeps).
    pub fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }
}

/// One entry of the catalogue: its Chinese, and its English where that is
/// not the key itself.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Entry {
    Zh(String),
    Both { zh: String, en: String },
}

/// Anxin's one catalogue of the words its pages show (`words.json`), in
/// Chinese and English: by section (a page, or the handlers of one module),
/// then by key. Templates and handlers read it through `Lang::t`, page
/// scripts through the section their page puts in `<meta name="anxin-words">`.
#[derive(Default)]
pub struct Catalogue {
    sections: std::collections::HashMap<String, Section>,
}

/// One section: key → (Chinese, English), and the section as a page's
/// script reads it, in Chinese and in English.
struct Section {
    texts: std::collections::HashMap<String, (String, String)>,
    json: [String; 2],
}

static CATALOGUE: std::sync::LazyLock<Catalogue> = std::sync::LazyLock::new(|| {
    Catalogue::parse(include_str!("../words.json")).unwrap_or_default()
});

impl Catalogue {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let raw: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Entry>> =
            serde_json::from_str(text)?;
        let mut catalogue = Self::default();
        for (section, entries) in raw {
            let mut texts = std::collections::HashMap::new();
            let (mut zh, mut en) = (serde_json::Map::new(), serde_json::Map::new());
            for (key, entry) in entries {
                let (z, e) = match entry {
                    Entry::Zh(z) => (z, key.clone()),
                    Entry::Both { zh, en } => (zh, en),
                };
                zh.insert(key.clone(), z.clone().into());
                if e != key {
                    en.insert(key.clone(), e.clone().into());
                }
                texts.insert(key, (z, e));
            }
            let json = [zh, en].map(|m| serde_json::Value::Object(m).to_string());
            catalogue.sections.insert(section, Section { texts, json });
        }
        Ok(catalogue)
    }

    /// The sections and their keys, for the test that every key named
    /// exists.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sections
            .iter()
            .flat_map(|(s, section)| section.texts.keys().map(move |k| (s.as_str(), k.as_str())))
    }

    fn text(&self, section: &str, key: &str, lang: Lang) -> Option<&str> {
        let (zh, en) = self.sections.get(section)?.texts.get(key)?;
        Some(match lang {
            Lang::Zh => zh,
            Lang::En => en,
        })
    }

    fn json(&self, section: &str, lang: Lang) -> &str {
        self.sections.get(section).map_or("{}", |s| match lang {
            Lang::Zh => &s.json[0],
            Lang::En => &s.json[1],
        })
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
        "words.js" => (
            include_str!("../assets/words.js"),
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

    /// The string literal at the start of `text` (after blanks), unescaped,
    /// and what follows it.
    fn literal(text: &str) -> Option<(String, &str)> {
        let text = text.trim_start();
        let rest = text.strip_prefix('"')?;
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        out.push(e);
                    }
                }
                '"' => return Some((out, &rest[i + 1..])),
                c => out.push(c),
            }
        }
        None
    }

    /// Every `(section, key)` a template or a handler names with `lang.t`.
    /// The templates and the handlers' sources.
    fn named_by_pages_files() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["templates", "src", "src/routes", "src/ops"] {
            for entry in std::fs::read_dir(root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "html" || e == "rs") {
                    files.push(path);
                }
            }
        }
        files
    }

    fn named_by_pages() -> Vec<(String, String, String)> {
        let mut named = Vec::new();
        for path in named_by_pages_files() {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (at, _) in text.match_indices("lang.t(") {
                let after = &text[at + "lang.t(".len()..];
                let Some((section, rest)) = literal(after) else {
                    continue;
                };
                let Some((key, _)) = rest.trim_start().strip_prefix(',').and_then(literal) else {
                    continue;
                };
                named.push((path.display().to_string(), section, key));
            }
        }
        named
    }

    fn script(page: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(root.join("assets").join(format!("{page}.js"))).unwrap_or_default()
    }

    /// The keys a page script names directly: `t("key"` and `group("key")`.
    fn named_by_script(page: &str) -> Vec<String> {
        let text = script(page);
        let mut named = Vec::new();
        for marker in ["t(", "group("] {
            for (at, _) in text.match_indices(marker) {
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let Some((key, rest)) = literal(&text[at + marker.len()..]) else {
                    continue;
                };
                // A key built from pieces (`t("fu_" + x)`) is checked by use.
                if rest.trim_start().starts_with([',', ')']) {
                    named.push(if marker == "t(" {
                        key
                    } else {
                        format!("{key}.")
                    });
                }
            }
        }
        named
    }

    fn placeholders(text: &str) -> std::collections::BTreeSet<&str> {
        text.match_indices('{')
            .filter_map(|(i, _)| {
                let rest = &text[i + 1..];
                let end = rest.find('}')?;
                rest[..end]
                    .chars()
                    .all(|c| c.is_ascii_digit())
                    .then(|| &rest[..end])
            })
            .filter(|p| !p.is_empty())
            .collect()
    }

    #[test]
    fn the_catalogue_has_every_word_a_page_names_in_both_languages_and_no_other() {
        let catalogue = Catalogue::parse(include_str!("../words.json")).expect("words.json parses");
        let known: std::collections::BTreeSet<(String, String)> = catalogue
            .keys()
            .map(|(s, k)| (s.to_string(), k.to_string()))
            .collect();
        let mut missing = Vec::new();
        let mut used = std::collections::BTreeSet::new();
        for (file, section, key) in named_by_pages() {
            if !known.contains(&(section.clone(), key.clone())) {
                missing.push(format!("{file}: {section} / {key}"));
            }
            used.insert((section, key));
        }
        let scripts = ["app", "expert", "ops", "org", "supervise"];
        for page in scripts {
            for key in named_by_script(page) {
                if let Some(prefix) = key.strip_suffix('.') {
                    let any = known
                        .iter()
                        .any(|(s, k)| s == page && k.starts_with(&format!("{prefix}.")));
                    if !any {
                        missing.push(format!("{page}.js: group {prefix}"));
                    }
                } else if page != "ops" && !known.contains(&(page.to_string(), key.clone())) {
                    missing.push(format!("{page}.js: {key}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "not in words.json:\n{}",
            missing.join("\n")
        );

        // Every entry is shown somewhere: named by a template or handler, or
        // by its page's script (a key, or a group it belongs to), or (the
        // dashboard, written in English) present in its page as it is.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let ops_page = std::fs::read_to_string(root.join("templates/ops.html")).unwrap_or_default();
        // A handler may hold a key in a constant it passes on (the dashboard's
        // sign-in notices); the dashboard says call states and kinds by their
        // codes with blanks for underscores.
        let handlers: String = named_by_pages_files()
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        let mut unused = Vec::new();
        for (section, key) in &known {
            let in_script = scripts.contains(&section.as_str()) && {
                let text = script(section);
                let group = key.split_once('.').map(|(g, _)| format!("group(\"{g}\")"));
                text.contains(&format!("\"{key}\""))
                    || group.is_some_and(|g| text.contains(&g))
                    || (section == "ops"
                        && (text.contains(key.as_str())
                            || ops_page.contains(key.as_str())
                            || text.contains(&key.replace(' ', "_"))))
            };
            let in_handler = handlers.contains(&format!("\"{key}\""));
            if !in_script && !in_handler && !used.contains(&(section.clone(), key.clone())) {
                unused.push(format!("{section} / {key}"));
            }
        }
        assert!(
            unused.is_empty(),
            "in words.json but shown nowhere:\n{}",
            unused.join("\n")
        );

        // Both languages of an entry fill the same blanks, and neither is empty.
        for (section, key) in &known {
            let zh = catalogue.text(section, key, Lang::Zh).unwrap_or_default();
            let en = catalogue.text(section, key, Lang::En).unwrap_or_default();
            assert!(
                !zh.trim().is_empty() && !en.trim().is_empty(),
                "{section} / {key}"
            );
            assert_eq!(
                placeholders(zh),
                placeholders(en),
                "{section} / {key}: {zh} | {en}"
            );
        }
    }

    #[test]
    fn a_page_gets_its_section_in_its_language() {
        let zh: serde_json::Value = serde_json::from_str(Lang::Zh.words("app")).unwrap_or_default();
        let en: serde_json::Value = serde_json::from_str(Lang::En.words("app")).unwrap_or_default();
        assert_eq!(zh["brand"], "安心");
        assert_eq!(en["brand"], "Anxin");
        assert_eq!(Lang::Zh.t("app", "brand"), "安心");
        assert_eq!(Lang::En.t("app", "brand"), "Anxin");
        // The dashboard's keys are its English: left out of the English map.
        let ops: serde_json::Value =
            serde_json::from_str(Lang::En.words("ops")).unwrap_or_default();
        assert!(ops.get("Open referrals").is_none());
        assert_eq!(Lang::Zh.t("ops", "Open referrals"), "待处理转介");
        assert_eq!(Lang::En.t("ops", "Open referrals"), "Open referrals");
    }
}
