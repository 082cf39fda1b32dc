//! The limits of the HTTP layer: bodies over the limit end the connection, URIs over the limit
//! are a 414 problem, and problem bodies stay small however many errors a request has.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::db_test;
use crate::helpers::TestApp;

/// Sends `POST path` with a chunked body of up to 64 MiB, never finishing it, and returns the
/// bytes the server answered before it closed the connection.
async fn chunked_post(app: &TestApp, path: &str, content_type: &str, extra: &str) -> String {
    let stream = TcpStream::connect(app.server.addr())
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: {content_type}\r\n{extra}Transfer-Encoding: chunked\r\n\r\n",
        app.admin_token
    );
    let sender = tokio::spawn(async move {
        let mut sent = 0usize;
        if writer.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk,
            b"\r\n".to_vec(),
        ]
        .concat();
        while sent < 64 * 1024 * 1024 {
            if writer.write_all(&framed).await.is_err() {
                break;
            }
            sent += framed.len();
        }
        // Never the last chunk: a server that reads on waits for ever.
        std::future::pending::<()>().await;
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut answer)).await;
    sender.abort();
    assert!(
        read.is_ok(),
        "the server kept the connection open: {}",
        String::from_utf8_lossy(&answer)
    );
    String::from_utf8_lossy(&answer).into_owned()
}

db_test!(
    async fn a_body_over_the_limit_ends_the_connection_whoever_reads_it(app) {
        for (path, content_type, extra) in [
            ("/api/v1/organisations", "application/json", ""),
            ("/api/v1/organisations", "application/json", "Idempotency-Key: limit-test-0123456789\r\n"),
            ("/api/v1/imports/organisations", "text/csv", ""),
        ] {
            let answer = chunked_post(&app, path, content_type, extra).await;
            let lower = answer.to_lowercase();
            assert!(answer.starts_with("HTTP/1.1 413"), "{path} {extra}: {answer}");
            assert!(lower.contains("connection: close"), "{path} {extra}: {answer}");
            assert!(lower.contains("content-type: application/problem+json"), "{answer}");
            assert!(lower.contains("x-request-id: "), "{answer}");
        }
        // The connection is not spoilt for anyone else.
        assert_eq!(app.get("/api/v1/organisations").await.status.as_u16(), 200);
    }
);

db_test!(
    async fn a_uri_over_the_limit_is_a_414_problem_with_the_usual_headers(app) {
        let long = format!("/api/v1/organisations?q={}", "a".repeat(16 * 1024));
        for response in [app.get(&long).await, app.as_anonymous().get(&long).await] {
            let problem = response.problem(414);
            assert_eq!(problem["type"], "/problems/uri-too-long");
            assert!(problem["request_id"].is_string());
            assert!(response.header("x-request-id").is_some());
            assert_eq!(response.header("x-content-type-options").as_deref(), Some("nosniff"));
            assert_eq!(response.header("cache-control").as_deref(), Some("no-store"));
        }
        // At the limit, the request is read (and this one refused for its own reasons).
        let path = "/api/v1/organisations?q=";
        let at_limit = format!("{path}{}", "a".repeat(16 * 1024 - path.len()));
        assert_eq!(app.get(&at_limit).await.problem(400)["errors"][0]["field"], "q");
    }
);

db_test!(
    async fn a_problem_lists_the_first_20_errors_and_counts_the_rest(app) {
        let query: Vec<String> = (0..50).map(|n| format!("unknown{n}=1")).collect();
        let response = app.get(&format!("/api/v1/organisations?{}", query.join("&"))).await;
        let problem = response.problem(400);
        assert_eq!(problem["errors"].as_array().unwrap().len(), 20);
        assert_eq!(problem["errors_omitted"], 30);
        assert_eq!(problem["detail"], "50 query parameters are invalid");
        // A problem with few errors has no count.
        let few = app.get("/api/v1/organisations?unknown=1").await.problem(400);
        assert!(few.get("errors_omitted").is_none(), "{few}");

        // An import report lists the first 100 bad cells and counts the rest.
        let mut csv = String::from("name,kind\n");
        for _ in 0..150 {
            csv.push_str(",other\n");
        }
        let request = app
            .request(actix_web::http::Method::POST, "/api/v1/imports/organisations")
            .insert_header(("content-type", "text/csv"));
        let rejected = app.send(request, Some(csv.into_bytes())).await;
        let report = &rejected.problem(422)["report"];
        assert_eq!(report["errors"].as_array().unwrap().len(), 100, "{report}");
        assert_eq!(report["errors_omitted"], 50);
    }
);
