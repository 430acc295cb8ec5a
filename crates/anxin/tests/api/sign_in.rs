//! People's sign-in: one-time links, session cookies, CSRF, suspension, and
//! the audit trail of each.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// An operator's link for the expert.
async fn link_for(app: &TestApp, expert: Uuid) -> String {
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{expert}/sign-in-links"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert!(body["expires_at"].is_string());
    body["url"].as_str().unwrap().to_string()
}

/// Uses the link as a program would; returns the response.
async fn use_link(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.post(url).send().await.unwrap()
}

/// The `name=value` of the session cookie a sign-in set.
fn session_cookie(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    set.split(';').next().unwrap().to_string()
}

/// The page an English-reading browser is shown.
async fn as_browser(req: reqwest::RequestBuilder) -> (StatusCode, String) {
    let r = req
        .header("accept", "text/html")
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    (r.status(), r.text().await.unwrap())
}

async fn audited(app: &TestApp, action: &str, actor_role: &str, target: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = $1 AND actor_role = $2 AND target_id = $3",
    )
    .bind(action)
    .bind(actor_role)
    .bind(target)
    .fetch_one(&app.db().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_link_signs_an_expert_in_once_by_post_and_the_cookie_works_like_their_token() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    // Only operators make links.
    for t in [
        new_seeker(),
        token(anxin_api::auth::Role::Expert, &expert.to_string()),
    ] {
        let r = app
            .post(
                &t,
                &format!("/v1/experts/{expert}/sign-in-links"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{}/sign-in-links", Uuid::new_v4()),
            &json!({}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let url = link_for(&app, expert).await;
    assert!(url.starts_with(&app.url("/sign-in/")), "{url}");

    // Opening the link (twice, as a link preview would) shows the page and
    // uses nothing up; Chinese unless the browser prefers English.
    for (accept, button) in [("zh-CN,zh;q=0.9", "登录"), ("en-US,en;q=0.8", "Sign in")] {
        let r = app
            .client
            .get(&url)
            .header("accept-language", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        let page = r.text().await.unwrap();
        assert!(
            page.contains("method=\"post\"") && page.contains(button),
            "{page}"
        );
    }

    let r = use_link(&app, &url).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/expert");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let max_age: i64 = set
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((12 * 3600 - 60..=12 * 3600).contains(&max_age), "{set}");
    let cookie = session_cookie(&r);

    // Single use: as JSON for a program, as a page for a browser.
    assert_error(
        use_link(&app, &url).await,
        StatusCode::GONE,
        "sign_in_link_used",
    )
    .await;
    let (status, page) = as_browser(app.client.post(&url)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("already used"), "{page}");
    assert_error(
        app.client.get(&url).send().await.unwrap(),
        StatusCode::GONE,
        "sign_in_link_used",
    )
    .await;
    // A link that never was says only that.
    for bogus in [
        "/sign-in/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/sign-in/short",
    ] {
        assert_error(
            use_link(&app, &app.url(bogus)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    // The cookie is the expert, on every route their token opens.
    let with = |req: reqwest::RequestBuilder| req.header("cookie", cookie.clone());
    let r = with(app.client.get(app.url("/v1/experts/me")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["id"], expert.to_string());
    assert_eq!(me["availability"]["slot_minutes"], 60);
    let masked = me["phone_masked"].as_str().unwrap();
    assert!(
        !masked.contains("13900001111") && masked.ends_with("1111"),
        "{masked}"
    );
    let r = with(app.client.get(app.url("/v1/experts/me/bookings")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Not an operator's, nor another expert's.
    let r = with(app.client.get(app.url("/v1/ops/summary")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let other = app.expert_with(&all_week(60)).await;
    let r = with(
        app.client
            .get(app.url(&format!("/v1/experts/{other}/availability"))),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A write with the cookie needs the session header (CSRF); with it, the
    // edit goes through and is audited as the expert's.
    let path = format!("/v1/experts/{expert}/availability");
    let r = with(app.client.put(app.url(&path)).json(&all_week(30)))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::FORBIDDEN, "csrf").await;
    let r = with(app.client.put(app.url(&path)).json(&all_week(30)))
        .header("X-Anxin-Session", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert_eq!(
        audited(&app, "sign_in_link.create", "operator", expert).await,
        1
    );
    assert_eq!(audited(&app, "session.start", "expert", expert).await, 1);
    assert_eq!(
        audited(&app, "availability.edit", "expert", expert).await,
        1
    );

    // Signing out ends the session at once.
    let end = || with(app.client.post(app.url("/v1/sessions/end")));
    assert_error(end().send().await.unwrap(), StatusCode::FORBIDDEN, "csrf").await;
    let r = end().header("X-Anxin-Session", "1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = with(app.client.get(app.url("/v1/experts/me")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = end().header("X-Anxin-Session", "1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nothing stored would sign anyone in: links and sessions are hashes.
    let dump = app.postgres_dump().await;
    assert!(!dump.contains(url.rsplit('/').next().unwrap()));
    assert!(!dump.contains(cookie.split('=').nth(1).unwrap()));
}

#[tokio::test]
async fn links_expire_and_suspending_an_expert_ends_their_sessions_at_once() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let db = app.db().await;

    let stale = link_for(&app, expert).await;
    sqlx::query("UPDATE sign_in_links SET expires_at = now() - interval '1 second'")
        .execute(&db)
        .await
        .unwrap();
    assert_error(
        use_link(&app, &stale).await,
        StatusCode::GONE,
        "sign_in_link_expired",
    )
    .await;
    let (status, page) = as_browser(app.client.get(&stale)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("has expired. Ask"), "{page}");

    let r = use_link(&app, &link_for(&app, expert).await).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie(&r);
    let unused = link_for(&app, expert).await;
    let me = || {
        app.client
            .get(app.url("/v1/experts/me"))
            .header("cookie", cookie.clone())
    };
    assert_eq!(me().send().await.unwrap().status(), StatusCode::OK);

    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{expert}/suspend"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        me().send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_error(
        use_link(&app, &unused).await,
        StatusCode::GONE,
        "sign_in_link_expired",
    )
    .await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{expert}/sign-in-links"),
            &json!({}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "expert_suspended").await;
}

#[tokio::test]
async fn an_operator_link_opens_the_dashboard_and_the_session_does_what_an_operator_may() {
    let app = spawn_app().await;
    // What `anxin sign-in-link --operator` runs.
    let by = anxin_store::audit::Actor {
        role: "cli",
        id: "test".into(),
    };
    let link = anxin_core::flows::sign_in::link_for_operator(&app.state, &by, "Lin Operator")
        .await
        .unwrap();
    let r = use_link(&app, &link.url).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/ops");
    let cookie = session_cookie(&r);
    let with = |req: reqwest::RequestBuilder| req.header("cookie", cookie.clone());
    let r = with(app.client.get(app.url("/ops"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("/assets/ops.js"));
    let r = with(app.client.get(app.url("/v1/ops/summary")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The operator's session makes an expert's link, audited as them.
    let expert = app.expert_with(&all_week(60)).await;
    let r = with(
        app.client
            .post(app.url(&format!("/v1/experts/{expert}/sign-in-links"))),
    )
    .header("X-Anxin-Session", "1")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'sign_in_link.create'
            AND actor_role = 'operator' AND actor_id = 'Lin Operator' AND target_id = $1",
    )
    .bind(expert)
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert_eq!(n, 1);
    // A second link for the same name is the same operator.
    anxin_core::flows::sign_in::link_for_operator(&app.state, &by, "Lin Operator")
        .await
        .unwrap();
    let operators: i64 = sqlx::query_scalar("SELECT count(*) FROM operators")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(operators, 1);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_client() {
    let app = spawn_app_with(|s| s.sign_ins_per_minute_per_ip = 3).await;
    let expert = app.expert_with(&all_week(60)).await;
    let good = link_for(&app, expert).await;
    let wrong = app.url("/sign-in/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for _ in 0..3 {
        assert_eq!(use_link(&app, &wrong).await.status(), StatusCode::NOT_FOUND);
    }
    // Even a good link waits once the client has guessed too often.
    let r = use_link(&app, &good).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // ...and it was not used up by the refusal.
    let r = app.client.get(&good).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
