//! `router push`: to a stand-in API server on 127.0.0.1, and to local KV through a
//! stand-in wrangler script.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edge_router::engine::snapshot::Published;
use serde_json::{json, Value};

use super::*;

/// What the stand-in API received: the request line, the headers (names lower-cased) and
/// the body.
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// A stand-in API on a loopback port: answers one request with `status` and `body`, and
/// hands the request back.
fn one_shot_api(status: u16, body: Value) -> (String, std::thread::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("a connection");
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
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().expect("length"));
        let mut payload = vec![0; length];
        reader.read_exact(&mut payload).expect("body");
        let text = body.to_string();
        let mut stream = stream;
        write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nX-Request-Id: req-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len()).expect("answer");
        Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(payload).expect("utf-8"),
        }
    });
    (base, handle)
}

#[test]
fn push_sends_the_merged_configuration_with_an_idempotency_key() {
    let (base, server) = one_shot_api(
        200,
        json!({"version": 42, "warnings": [
            {"severity": "warning", "code": "unroutable_destination", "path": "rules[10].destination", "id": "gulf-sale-shop", "message": "gharart-sale.shop was rejected"}
        ]}),
    );
    let out = router_with(
        &["push", &rules_dir(), "--api", &format!("{base}/")],
        &[("ROUTER_TOKEN", "gr_pat_test")],
    );
    let received = server.join().expect("the server ran");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        received.request_line,
        "PUT /v2/handles/gharart/configuration HTTP/1.1"
    );
    let header = |name: &str| received.header(name);
    assert_eq!(header("authorization"), "Bearer gr_pat_test");
    assert!(header("idempotency-key").starts_with("router-push-"));
    assert!(header("content-type").starts_with("application/json"));
    let (config, _) =
        edge_router::model::files::load_dir(Path::new(&rules_dir())).expect("rules load");
    let sent: edge_router::HandleConfig =
        serde_json::from_str(&received.body).expect("a HandleConfig");
    assert_eq!(sent, config);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("pushed gharart to {base}: version 42")),
        "{text}"
    );
    let line = line_of("rules.json", "https://gharart-sale.shop/gulf");
    assert!(text.contains(&format!("rules.json:{line}:22: warning[unroutable_destination] rules[10].destination (gulf-sale-shop)")), "{text}");
}

#[test]
fn push_reports_the_apis_refusal_located_in_the_files() {
    let (base, server) = one_shot_api(
        400,
        json!({"error": {"code": "validation_failed", "message": "1 validation error(s); see error.details", "request_id": "req-9",
        "details": [{"severity": "error", "code": "unknown_entry", "path": "$.rules[25].entries[0]", "id": "uk-diwali-sale", "message": "no entry has the slug \"x\""}]}}),
    );
    let token_file = Scratch::new("token");
    let file = token_file.0.join("pat");
    std::fs::write(&file, "gr_pat_from_file\n").expect("token file");
    let out = router(&[
        "push",
        &rules_dir(),
        "--api",
        &base,
        "--token-file",
        file.to_str().expect("path"),
        "--idempotency-key",
        "key-1",
    ]);
    let received = server.join().expect("the server ran");
    assert_eq!(received.header("authorization"), "Bearer gr_pat_from_file");
    assert_eq!(received.header("idempotency-key"), "key-1");
    assert_eq!(code(&out), 1, "the API refused the configuration");
    let text = stderr(&out);
    assert!(text.contains("error: the API answered 400 validation_failed: 1 validation error(s); see error.details (request id req-9)"), "{text}");
    let line = line_of("rules.json", "\"uk-diwali-sale\"") + 2;
    assert!(
        text.contains(&format!(
            "rules.json:{line}:19: error[unknown_entry] rules[25].entries[0] (uk-diwali-sale)"
        )),
        "{text}"
    );
}

#[test]
fn push_fails_clearly_without_a_worker_or_with_invalid_rules() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let api = format!("http://127.0.0.1:{port}");
    let out = router(&["push", &rules_dir(), "--api", &api, "--token", "t"]);
    assert_eq!(code(&out), 2);
    let text = stderr(&out);
    assert!(
        text.contains(&format!(
            "cannot reach {api}/v2/handles/gharart/configuration"
        )),
        "{text}"
    );
    assert!(
        text.contains("Is the worker running") && text.contains("--idempotency-key router-push-"),
        "{text}"
    );
    let out = router(&[
        "--json",
        "push",
        &rules_dir(),
        "--api",
        &api,
        "--token",
        "t",
    ]);
    assert_eq!(code(&out), 2);
    assert_eq!(json_out(&out)["error"]["code"], "unreachable");

    let out = router(&["push", &rules_dir(), "--api", &api]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--api needs a token with the admin scope"));
    let out = router(&["push", &rules_dir()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("say where to push"));
    // Issue 10: plain http only to this machine: a token and a configuration never cross
    // a network in clear text (refused before anything is sent).
    for far in [
        "http://router.gharart.example",
        "http://10.0.0.5:8787",
        "ftp://127.0.0.1",
    ] {
        let out = router(&["push", &rules_dir(), "--api", far, "--token", "t"]);
        assert_eq!(code(&out), 2, "{far}");
        assert!(stderr(&out).contains("--api"), "{far}: {}", stderr(&out));
    }
    let out = router(&[
        "push",
        &rules_dir(),
        "--api",
        "http://router.gharart.example",
        "--token",
        "t",
    ]);
    assert!(stderr(&out).contains("clear text"), "{}", stderr(&out));

    // Invalid rule files are never sent: the error is theirs (exit 1), not the network's.
    let broken = Scratch::broken("push-invalid", "rules.json", |t| {
        t.replacen("\"US\"", "\"USA\"", 1)
    });
    let out = router(&["push", broken.path(), "--api", &api, "--token", "t"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("error[invalid_country]"),
        "{}",
        stderr(&out)
    );
}

/// A stand-in wrangler in `scratch`: logs its arguments to `log`, answers `kv key get`
/// with `current` and copies what `kv key put --path` is given to `stored`.
fn fake_wrangler(scratch: &Scratch, current: &str) -> (PathBuf, PathBuf, PathBuf) {
    let log = scratch.0.join("log");
    let stored = scratch.0.join("stored.json");
    let script = scratch.0.join("wrangler");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{log}'\ncase \"$3\" in\n  get) echo '{current}' ;;\n  put) while [ $# -gt 0 ]; do [ \"$1\" = --path ] && cp \"$2\" '{stored}'; shift; done ;;\nesac\n",
            log = log.display(),
            stored = stored.display()
        ),
    )
    .expect("script");
    let chmod = Command::new("chmod")
        .args(["+x", script.to_str().expect("path")])
        .status()
        .expect("chmod");
    assert!(chmod.success());
    (script, log, stored)
}

/// `router ARGS --persist-to PERSIST --wrangler SCRIPT`.
fn router_local(args: &[&str], persist: &Path, script: &Path) -> Output {
    let mut all = args.to_vec();
    all.extend([
        "--persist-to",
        persist.to_str().expect("path"),
        "--wrangler",
        script.to_str().expect("path"),
    ]);
    router(&all)
}

#[test]
fn push_local_puts_the_snapshot_with_wrangler() {
    let scratch = Scratch::new("wrangler");
    let (script, log, stored) = fake_wrangler(&scratch, r#"{"version": 99999999999}"#);
    let persist = scratch.0.join("state");
    let out = router_local(
        &["--json", "push", &rules_dir(), "--local"],
        &persist,
        &script,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let result = json_out(&out);
    assert_eq!(result["key"], "snapshot:gharart");
    assert_eq!(
        result["version"], 100_000_000_000u64,
        "above the version local KV holds"
    );
    let calls = std::fs::read_to_string(&log).expect("wrangler was called");
    let persist = persist.display();
    // Read as bytes (no --text: the value's edge form is binary).
    assert!(
        calls.lines().any(|line| line
            == format!(
                "kv key get --local --persist-to {persist} --binding CONFIG snapshot:gharart"
            )),
        "{calls}"
    );
    assert!(
        calls.contains(&format!(
            "kv key put --local --persist-to {persist} --binding CONFIG snapshot:gharart --path "
        )),
        "{calls}"
    );
    let snapshot = std::fs::read(&stored).expect("the snapshot file was handed to wrangler");
    let (json, edge) = edge_router::engine::snapshot::split(&snapshot);
    assert!(
        edge.is_some(),
        "stored with its edge form, as the API publishes"
    );
    serde_json::from_slice::<serde_json::Value>(json).expect("the JSON comes first, whole");
    let Ok(Published::Live(loaded)) = edge_router::engine::snapshot::load("gharart", &snapshot)
    else {
        panic!("a valid snapshot")
    };
    assert_eq!(loaded.version, 100_000_000_000);

    let out = router(&[
        "push",
        &rules_dir(),
        "--local",
        "--wrangler",
        "/nonexistent/wrangler",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot run /nonexistent/wrangler"),
        "{}",
        stderr(&out)
    );
}

/// Issue 10: a lower version is refused unless a higher generation makes the step back
/// deliberate; then running isolates honour it.
#[test]
fn push_local_rolls_back_only_in_a_higher_generation() {
    let scratch = Scratch::new("wrangler-rollback");
    let (script, _, stored) = fake_wrangler(&scratch, r#"{"version": 99999999999}"#);
    let persist = scratch.0.join("state");
    let dir = rules_dir();
    let push = |extra: &[&str]| {
        let mut args = vec!["--json", "push", dir.as_str(), "--local"];
        args.extend_from_slice(extra);
        router_local(&args, &persist, &script)
    };
    let refused = push(&["--version", "1000"]);
    assert_eq!(code(&refused), 2, "{}", stdout(&refused));
    let message = json_out(&refused)["error"]["message"].to_string();
    assert!(
        message.contains("not above") && message.contains("--generation 1"),
        "{message}"
    );
    assert!(!stored.exists(), "nothing was written");
    let out = push(&["--version", "1000", "--generation", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["generation"], 1);
    let snapshot = std::fs::read(&stored).expect("written");
    let Ok(Published::Live(loaded)) = edge_router::engine::snapshot::load("gharart", &snapshot)
    else {
        panic!("a valid snapshot")
    };
    assert_eq!((loaded.generation, loaded.version), (1, 1000));
}

#[test]
fn takedown_local_writes_a_tombstone_above_what_local_kv_holds() {
    let scratch = Scratch::new("wrangler-takedown");
    let (script, log, stored) =
        fake_wrangler(&scratch, r#"{"generation": 3, "version": 99999999999}"#);
    let persist = scratch.0.join("state");
    let out = router_local(
        &[
            "takedown",
            "--handle",
            "gharart",
            "--local",
            "--reason",
            "abuse report 42",
        ],
        &persist,
        &script,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("took gharart down"),
        "{}",
        stdout(&out)
    );
    let calls = std::fs::read_to_string(&log).expect("wrangler was called");
    assert!(calls.contains("snapshot:gharart --path "), "{calls}");
    let value = std::fs::read(&stored).expect("written");
    let Ok(Published::TakenDown(tombstone)) =
        edge_router::engine::snapshot::load("gharart", &value)
    else {
        panic!("a tombstone: {}", String::from_utf8_lossy(&value))
    };
    assert_eq!(
        (tombstone.generation, tombstone.version),
        (3, 100_000_000_000),
        "in the current generation, above the current version"
    );
    assert_eq!(tombstone.reason.as_deref(), Some("abuse report 42"));

    let file = scratch.0.join("tombstone.json");
    let out = router(&[
        "--json",
        "takedown",
        "--handle",
        "gharart",
        "--out",
        file.to_str().expect("path"),
        "--version",
        "7",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let value = std::fs::read(&file).expect("written");
    assert!(matches!(
        edge_router::engine::snapshot::load("gharart", &value),
        Ok(Published::TakenDown(t)) if t.version == 7
    ));
    let nowhere = router(&["takedown", "--handle", "gharart"]);
    assert_eq!(code(&nowhere), 2);
    assert!(
        stderr(&nowhere).contains("--local, or --out"),
        "{}",
        stderr(&nowhere)
    );
}
