//! The public application page: no token, the form in both languages, a
//! field at fault answered with the form again, and the rate limit.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

fn form(name: &str, phone: &str) -> Vec<(&'static str, String)> {
    vec![
        ("display_name", name.to_string()),
        ("phone", phone.to_string()),
        ("region", "hubei".into()),
        ("timezone", "Asia/Shanghai".into()),
        ("languages", "zh".into()),
        ("languages", "en".into()),
        ("specialties", "grief".into()),
        ("bio", "Counsellor, <b>ten</b> years".into()),
    ]
}

/// Posts the form as a program (`accept` none) or a browser would.
async fn send(app: &TestApp, form: &[(&str, String)], accept: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/apply"))
        .header("accept-language", "en")
        .form(form);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn anyone_applies_from_the_page_and_the_application_awaits_vetting() {
    let app = spawn_app_with(|s| s.applications_per_hour_per_ip = 4).await;
    for (accept, says) in [
        ("zh-CN", "申请成为志愿专家"),
        ("en", "Volunteer as an expert"),
    ] {
        let r = app
            .client
            .get(app.url("/apply"))
            .header("accept-language", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(
            page.contains(says) && page.contains("action=\"/apply?lang="),
            "{page}"
        );
    }
    // A field at fault: the form again, filled in (escaped), saying which.
    let r = send(&app, &form("Dr. Typo", "12345"), Some("text/html")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("phone number is not valid") && page.contains("value=\"Dr. Typo\""));
    // Escaped by the template (as numeric references), never markup.
    assert!(page.contains("&#60;b&#62;ten&#60;/b&#62;") && !page.contains("<b>ten</b>"));
    // A program gets the JSON error naming the field.
    let r = send(&app, &form("Dr. Typo", "12345"), None).await;
    let e = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(e["field"], "phone");
    // No token needed; it lands in the vetting list.
    let r = send(&app, &form("Dr. Volunteer", "+8613700001111"), None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let board: Value = app
        .get(&operator(), "/v1/ops/board")
        .await
        .json()
        .await
        .unwrap();
    let pending = board["pending_experts"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["display_name"], "Dr. Volunteer");
    assert_eq!(pending[0]["languages"], serde_json::json!(["zh", "en"]));
    // The fourth attempt this hour is the last one allowed.
    send(&app, &form("x", "1"), None).await;
    let r = send(&app, &form("x", "1"), None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}
