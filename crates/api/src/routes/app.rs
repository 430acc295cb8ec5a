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
            .replace("{{crisis}}", &crisis_list(&state.config.crisis_lines, lang)),
    )
}

/// The crisis box's list: the configured psychological-aid lines first, one
/// item per line of `ANXIN_CRISIS_LINES`, then the emergency numbers; every
/// number a `tel:` link, so one tap on a phone calls it.
pub fn crisis_list(configured: &str, lang: Lang) -> String {
    let emergency = [
        lang.pick("急救 120", "Ambulance 120"),
        lang.pick("报警 110", "Police 110"),
    ];
    configured
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .chain(emergency)
        .map(|line| format!("<li>{}</li>", with_tel_links(line)))
        .collect()
}

/// Escapes `line` and makes each phone number in it a `tel:` link: three or
/// more digits in a row, or five or more grouped by dashes or single spaces.
fn with_tel_links(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && !chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push_str(&escape(&chars[start..i].iter().collect::<String>()));
            continue;
        }
        // A run of digits, joined across one dash or space between digits.
        let start = i;
        let mut end = i;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
            if end + 1 < chars.len()
                && matches!(chars[end], '-' | ' ')
                && chars[end + 1].is_ascii_digit()
            {
                end += 1;
            }
        }
        let shown: String = chars[start..end].iter().collect();
        let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
        // 110, 12356, 400-161-9995 — but not hours such as "8-22".
        let grouped = digits.len() < shown.chars().count();
        if digits.len() >= if grouped { 5 } else { 3 } {
            out.push_str(&format!(r#"<a href="tel:{digits}">{}</a>"#, escape(&shown)));
        } else {
            out.push_str(&escape(&shown));
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_lines_come_first_then_the_emergency_numbers_each_a_tel_link() {
        let html = crisis_list(
            "全国心理援助热线 12356\nHope line 400-161-9995 (24 h) <b>",
            Lang::Zh,
        );
        assert_eq!(
            html,
            "<li>全国心理援助热线 <a href=\"tel:12356\">12356</a></li>\
             <li>Hope line <a href=\"tel:4001619995\">400-161-9995</a> (24 h) &lt;b&gt;</li>\
             <li>急救 <a href=\"tel:120\">120</a></li>\
             <li>报警 <a href=\"tel:110\">110</a></li>"
        );
    }

    #[test]
    fn grouped_numbers_are_one_link_and_short_figures_none() {
        assert_eq!(
            with_tel_links("Call 010 8295 1332, 8-22 h"),
            "Call <a href=\"tel:01082951332\">010 8295 1332</a>, 8-22 h"
        );
        assert_eq!(crisis_list("", Lang::En).matches("<li>").count(), 2);
    }
}
