//! `router history` and `router restore` against the real management API: a loopback
//! HTTP server that runs every request through `Api::handle` over a `MemoryStore`
//! seeded like `make dev` (rules/gharart published as version 1, an admin PAT).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use chrono::DateTime;
use edge_router::api::auth::{pat_hash, PatRecord};
use edge_router::api::context::ApiSettings;
use edge_router::api::memory::{FixedResolver, MemoryStore};
use edge_router::api::service::{Api, ApiRequest};
use edge_router::engine::snapshot::Snapshot;
use serde_json::json;

use super::*;

const PAT: &str = "gr_pat_history_cli_admin_token_0123456789";

/// Serves the management API on a loopback port until the test process ends.
fn api_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let store = MemoryStore::new();
        {
            let (config, _) =
                edge_router::model::files::load_dir(Path::new(&rules_dir())).expect("rules load");
            let snapshot = Snapshot::new(config, 1, "2026-11-01T00:00:00Z".into())
                .to_stored()
                .expect("snapshot");
            let mut tables = store.tables.borrow_mut();
            tables.published.insert("gharart".into(), snapshot);
            tables.pats.insert(
                pat_hash(PAT),
                PatRecord {
                    handle: "gharart".into(),
                    scopes: "admin".into(),
                    sub: "cli@gharart.com".into(),
                    expires_at: None,
                    revoked: false,
                },
            );
        }
        let resolver = FixedResolver::default();
        let settings = ApiSettings::default();
        let log = |_: &str| {};
        let api = Api {
            store: &store,
            resolver: &resolver,
            settings: &settings,
            log: &log,
        };
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            serve(&api, stream, n as u64);
        }
    });
    base
}

fn serve(api: &Api<'_, MemoryStore, FixedResolver>, stream: TcpStream, n: u64) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("request line");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').expect("a header");
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let length: usize = header("content-length").map_or(0, |v| v.parse().expect("length"));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    let mut parts = request_line.split_whitespace();
    let method = parts.next().expect("method").to_owned();
    let target = parts.next().expect("target").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let request_id = format!("cli-{n}");
    let req = ApiRequest {
        method: &method,
        path,
        query,
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        content_length: Some(length as u64),
        client: "cli-test",
        request_id: &request_id,
    };
    let answer = pollster::block_on(api.handle(&req, &body, now(), [n as u8; 16]));
    let mut out = stream;
    let mut head = format!("HTTP/1.1 {} X\r\n", answer.status);
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    out.write_all(head.as_bytes()).expect("head");
    out.write_all(&answer.body).expect("body");
}

fn now() -> DateTime<chrono::Utc> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    DateTime::from_timestamp(secs as i64, 0).expect("a time")
}

#[test]
fn history_lists_and_shows_changes_and_restore_brings_a_version_back() {
    let base = api_server();
    let remote = |args: &[&str]| -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--api", &base]);
        router_with(&all, &[("ROUTER_TOKEN", PAT)])
    };
    // A push changes one rule: version 2 over the seeded version 1.
    let changed = Scratch::broken("history-push", "rules.json", |t| {
        t.replacen(
            "\"destination\": \"https://m.gharart.in/festive\"",
            "\"destination\": \"https://m.gharart.in/sale\"",
            1,
        )
    });
    let out = router_with(
        &["push", changed.path(), "--api", &base],
        &[("ROUTER_TOKEN", PAT)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let out = remote(&["history"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("gharart: version 2 (newest first)"),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].starts_with("v2")
            && lines[1].contains("cli@gharart.com")
            && lines[1].contains("PUT /v2/handles/{handle}/configuration")
            && lines[1].ends_with("rules ~in-mobile"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("v1") && lines[2].contains("baseline"),
        "{text}"
    );

    let out = remote(&["history", "2"]);
    let text = stdout(&out);
    assert!(
        text.contains(
            r#"$.destination: "https://m.gharart.in/festive" -> "https://m.gharart.in/sale""#
        ),
        "{text}"
    );

    let out = remote(&["restore", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("restored gharart version 1 as version 3"),
        "{}",
        stdout(&out)
    );

    let out = remote(&["--json", "history", "--limit", "1"]);
    let listed = json_out(&out);
    assert_eq!(listed["ok"], true);
    assert_eq!(listed["changes"][0]["kind"], "restore");
    assert_eq!(listed["changes"][0]["restored_from"], 1);
    assert_eq!(listed["next_before"], 3);
    let out = remote(&["--json", "history", "--limit", "1", "--before", "3"]);
    assert_eq!(json_out(&out)["changes"][0]["version"], 2);

    // The current version, an unknown one: the API's codes, exit 2.
    let out = remote(&["restore", "3"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("409 already_current"),
        "{}",
        stderr(&out)
    );
    let out = remote(&["--json", "restore", "99"]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        json_out(&out)["error"],
        json!({"code": "version_not_found", "message": "the API answered 404 version_not_found: no version \"99\" (request id cli-7)", "status": 404, "request_id": "cli-7"})
    );
    // A retried restore with its key is replayed.
    let first = remote(&["--json", "restore", "2", "--idempotency-key", "k-1"]);
    let again = remote(&["--json", "restore", "2", "--idempotency-key", "k-1"]);
    assert_eq!(json_out(&first)["version"], 4);
    assert_eq!(json_out(&again)["replayed"], true);
    assert_eq!(json_out(&again)["version"], 4);
}

#[test]
fn history_needs_a_token_and_refuses_clear_text_to_other_machines() {
    let out = router(&["history", "--api", "http://127.0.0.1:9"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("needs a token"), "{}", stderr(&out));
    let out = router(&[
        "restore",
        "2",
        "--api",
        "http://example.com",
        "--token",
        "t",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("clear text"), "{}", stderr(&out));
    let out = router(&[
        "history",
        "--api",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--handle",
        "Not A Handle",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("is not a handle"), "{}", stderr(&out));
}
