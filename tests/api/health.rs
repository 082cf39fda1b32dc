//! Liveness and readiness.

use actix_web::http::StatusCode;

use crate::db_test;

db_test!(
    async fn live_and_ready_answer_without_credentials(app) {
        let live = app.get("/health/live").await;
        assert_eq!(live.status, StatusCode::OK);
        assert_eq!(live.json()["status"], "ok");
        let ready = app.get("/health/ready").await;
        assert_eq!(ready.status, StatusCode::OK);
    }
);
