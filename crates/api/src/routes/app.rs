//! The reference seeker app, `/app`: one small page (its script and style
//! sheet are static assets) that a host app opens with the seeker's token
//! in the URL fragment, `/app#token=<jwt>`. The fragment never reaches a
//! server or a log; the script keeps the token in the tab's session storage
//! and does everything through the public API, as any client would. The
//! only thing the page carries from the server is the crisis lines, for
//! anyone who needs help now.
use crate::pages::{self, Lang};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::state::AppState;

/// The page (`templates/app.html`).
#[derive(askama::Template)]
#[template(path = "app.html")]
struct App {
    lang: Lang,
    crisis: Vec<Vec<Piece>>,
}

#[utoipa::path(get, path = "/app", tag = "seekers",
    description = "The reference seeker app for a seeker's browser, in Chinese (default) or \
                   English (`Accept-Language`, `?lang=zh|en`). The host app opens it with the \
                   seeker's token in the fragment: `/app#token=<jwt>`.",
    responses((status = 200, description = "the app", content_type = "text/html")))]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = Lang::of(&req);
    pages::render(
        StatusCode::OK,
        &App {
            lang,
            crisis: crisis_lines(&state.config.crisis_lines, lang),
        },
    )
}

/// A run of a crisis line's text: plain, or a number to call (`tel`, its
/// digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub tel: Option<String>,
}

/// The crisis box's lines: the configured psychological-aid lines first, one
/// per line of `ANXIN_CRISIS_LINES`, then the emergency numbers; every
/// number one tap to call.
pub fn crisis_lines(configured: &str, lang: Lang) -> Vec<Vec<Piece>> {
    let emergency = [lang.t("app", "Ambulance 120"), lang.t("app", "Police 110")];
    configured
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .chain(emergency)
        .map(pieces)
        .collect()
}

/// `line` cut into text and phone numbers: three or more digits in a row,
/// or five or more grouped by dashes or single spaces (110, 12356,
/// 400-161-9995, but not hours such as "8-22").
fn pieces(line: &str) -> Vec<Piece> {
    let chars: Vec<char> = line.chars().collect();
    let mut out: Vec<Piece> = Vec::new();
    let mut push = |text: String, tel: Option<String>| match out.last_mut() {
        Some(last) if last.tel.is_none() && tel.is_none() => last.text.push_str(&text),
        _ => out.push(Piece { text, tel }),
    };
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && !chars[i].is_ascii_digit() {
                i += 1;
            }
            push(chars[start..i].iter().collect(), None);
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
        let grouped = digits.len() < shown.chars().count();
        let dialable = digits.len() >= if grouped { 5 } else { 3 };
        push(shown, dialable.then_some(digits));
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Piece {
        Piece {
            text: t.into(),
            tel: None,
        }
    }

    fn tel(shown: &str, digits: &str) -> Piece {
        Piece {
            text: shown.into(),
            tel: Some(digits.into()),
        }
    }

    #[test]
    fn configured_lines_come_first_then_the_emergency_numbers_each_one_to_call() {
        let lines = crisis_lines(
            "全国心理援助热线 12356\nHope line 400-161-9995 (24 h)",
            Lang::Zh,
        );
        assert_eq!(
            lines,
            vec![
                vec![text("全国心理援助热线 "), tel("12356", "12356")],
                vec![
                    text("Hope line "),
                    tel("400-161-9995", "4001619995"),
                    text(" (24 h)")
                ],
                vec![text("急救 "), tel("120", "120")],
                vec![text("报警 "), tel("110", "110")],
            ]
        );
    }

    #[test]
    fn grouped_numbers_are_one_and_short_figures_are_text() {
        assert_eq!(
            pieces("Call 010 8295 1332, 8-22 h"),
            vec![
                text("Call "),
                tel("010 8295 1332", "01082951332"),
                text(", 8-22 h")
            ]
        );
        assert_eq!(crisis_lines("", Lang::En).len(), 2);
    }
}
