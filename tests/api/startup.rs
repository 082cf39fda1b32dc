//! Start-up through the real binary: a bad setting stops it with one line and exit status 2
//! before anything is created, and a taken port is reported without claiming to listen.

use std::net::TcpListener;
use std::time::Duration;

use crate::binary::{Running, Start};
use crate::both_databases;
use crate::helpers::{Backend, JWT_SECRET};

fn bad_settings_stop_start_up_before_anything_is_created(backend: Backend) {
    let bad: &[(&str, &[(&str, &str)])] = &[
        (
            "CONVENE_ADMIN_EMAIL",
            &[("CONVENE_ADMIN_EMAIL", "notanemail")],
        ),
        (
            "CONVENE_ADMIN_PASSWORD",
            &[("CONVENE_ADMIN_PASSWORD", "short")],
        ),
        // Weak only in view of the email: the rule needs both.
        (
            "CONVENE_ADMIN_PASSWORD",
            &[("CONVENE_ADMIN_PASSWORD", "admin-of-everything-42")],
        ),
        (
            "CORS_ORIGINS",
            &[("CORS_ORIGINS", "https://admin example.org")],
        ),
        (
            "CORS_ORIGINS",
            &[("CORS_ORIGINS", "https://admin.example.org/app")],
        ),
        ("DATABASE_POOL_SIZE", &[("DATABASE_POOL_SIZE", "0")]),
    ];
    for (variable, env) in bad {
        let start = Start::new(backend);
        let (output, stopped) = start.serve(env, Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stopped,
            "{env:?} was accepted: the service started\n{stderr}"
        );
        assert_eq!(output.status.code(), Some(2), "{env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{env:?}: one line, got {stderr}");
        assert!(
            lines[0].starts_with(&format!("convene: configuration error: {variable} ")),
            "{env:?}: {stderr}"
        );
        for (_, value) in *env {
            if variable.contains("PASSWORD") {
                assert!(
                    !stderr.contains(value),
                    "the password was printed: {stderr}"
                );
            }
        }
        assert_eq!(
            start.created(),
            Vec::<String>::new(),
            "{env:?} created these"
        );
    }
}

both_databases!(bad_settings_stop_start_up_before_anything_is_created);

fn a_taken_port_is_reported_and_never_said_to_be_listened_on(backend: Backend) {
    let start = Start::new(backend);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (output, stopped) = start.serve(
        &[("BIND", address.as_str()), ("JWT_SECRET", JWT_SECRET)],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stopped, "still running on a taken port\n{stderr}");
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("convene: cannot listen on {address}: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(taken);
}

both_databases!(a_taken_port_is_reported_and_never_said_to_be_listened_on);

/// Past the HTTP parser's own 64 KiB, a target still gets the service's 414 problem (actix
/// alone answers a bare 400), and the connection goes on to the next request; a body is
/// never taken for a request line.
fn a_uri_too_long_for_the_parser_is_a_414_problem(backend: Backend) {
    let start = Start::new(backend);
    let running = Running::start(&start, &[], None);
    let long = |size: usize| {
        format!(
            "GET /api/v1/organisations?q={} HTTP/1.1\r\nHost: convene\r\n\r\n",
            "a".repeat(size)
        )
        .into_bytes()
    };
    let body = format!("GET /{} HTTP/1.1\r\n", "b".repeat(100 * 1024));
    let chunked_body = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: convene\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let last = b"GET /health/live HTTP/1.1\r\nHost: convene\r\nConnection: close\r\n\r\n".to_vec();
    let responses = running.exchange(&[
        long(70 * 1024),
        long(1024 * 1024),
        chunked_body.into_bytes(),
        long(20 * 1024),
        last,
    ]);
    let statuses: Vec<u16> = responses.iter().map(|(status, ..)| *status).collect();
    assert_eq!(statuses, [414, 414, 400, 414, 200], "{responses:?}");
    for (_, head, body) in &responses[..2] {
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(head.contains("x-request-id: "), "{head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["type"], "/problems/uri-too-long", "{problem}");
        assert!(problem["request_id"].is_string(), "{problem}");
    }
}

both_databases!(a_uri_too_long_for_the_parser_is_a_414_problem);
