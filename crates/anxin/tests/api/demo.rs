use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn seeding_twice_leaves_one_set_of_demo_experts() {
    let app = spawn_app().await;
    let first = anxin::demo::seed(&app.state).await.unwrap();
    assert_eq!(first.created, 200);
    let db = app.db().await;
    let count = || async {
        let experts: i64 = sqlx::query_scalar("SELECT count(*) FROM experts WHERE demo")
            .fetch_one(&db)
            .await
            .unwrap();
        let slots: i64 = sqlx::query_scalar("SELECT count(*) FROM slots WHERE status = 'open'")
            .fetch_one(&db)
            .await
            .unwrap();
        (experts, slots)
    };
    let before = count().await;
    let again = anxin::demo::seed(&app.state).await.unwrap();
    assert_eq!(again.created, 0);
    assert_eq!(count().await, before);
    assert_eq!(before.0, 200);
    // A seeker sees a full slate of demo experts.
    let r = app.get(&new_seeker(), "/v1/slate").await;
    assert_eq!(r.status(), StatusCode::OK);
    let slate: Value = r.json().await.unwrap();
    assert_eq!(slate["experts"].as_array().unwrap().len(), 20);

    // The two operating guides are required, and the demo's volunteers have
    // done them; the first organisation's first volunteer supervises the
    // others, the same one each time.
    let required: i64 = sqlx::query_scalar("SELECT count(*) FROM training_modules WHERE required")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(required, 2);
    let untrained: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM experts e, training_modules m WHERE e.demo AND m.required
            AND NOT EXISTS (SELECT 1 FROM training_completions c
                             WHERE c.expert_id = e.id AND c.module_id = m.id)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(untrained, 0);
    let org = anxin_core::flows::organisations::published(&app.state, None, None)
        .await
        .unwrap()[0]
        .id;
    let supervisor = anxin::demo::supervisor(&app.state, org).await.unwrap();
    assert_eq!(
        anxin::demo::supervisor(&app.state, org).await.unwrap(),
        supervisor
    );
    let supervised: i64 =
        sqlx::query_scalar("SELECT count(*) FROM experts WHERE supervisor_id = $1")
            .bind(supervisor.unwrap().0)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(supervised > 0);
}

#[tokio::test]
async fn demo_traffic_books_through_the_real_flows() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.expert_with(&all_week(60)).await;
    }
    let traffic = tokio::spawn(anxin::demo::traffic(
        app.state.clone(),
        std::time::Duration::from_millis(20),
    ));
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    traffic.abort();
    let db = app.db().await;
    let booked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM bookings WHERE status <> 'cancelled'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(booked > 0);
    let doubled = app.double_bookings().await;
    assert_eq!(doubled, 0);
}
