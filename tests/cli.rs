//! The `router` binary as a user runs it: on `rules/gharart` and on broken copies of it,
//! checking exit codes (0 ok, 1 problems, 2 could not run), the file, rule id and JSON
//! path in messages, and the `--json` shapes. `push` talks to a stand-in API server on
//! 127.0.0.1 and to a stand-in wrangler script.
// Test code: clippy.toml's *-in-tests options reach only #[test] fns, not these helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use edge_router::visit::tokens::{self, PreviewClaims, TokenKind};
use serde_json::Value;

#[path = "cli/decide.rs"]
mod decide;
#[path = "cli/history.rs"]
mod history;
#[path = "cli/push.rs"]
mod push;

const IN_MOBILE: &str = "https://m.gharart.in/festive?gh_rule=in-mobile&utm_campaign=festive-2026&utm_content=IN-mobile&utm_medium=redirect&utm_source=gharart-edge";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

fn rules_dir() -> String {
    format!("{}/rules/gharart", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with a clean environment for its own variables.
fn router(args: &[&str]) -> Output {
    router_with(args, &[])
}

fn router_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_router"));
    command
        .args(args)
        .env_remove("TOKEN_SECRET")
        .env_remove("ROUTER_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the router binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn json_out(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", stdout(out)))
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("router-cli-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// A copy of rules/gharart with `file` changed by `edit` (which must change it).
    fn broken(name: &str, file: &str, edit: impl Fn(&str) -> String) -> Self {
        let scratch = Self::new(name);
        for entry in std::fs::read_dir(rules_dir()).expect("rules/gharart") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("readable");
            let text = if path.file_name().is_some_and(|n| n == file) {
                let edited = edit(&text);
                assert_ne!(edited, text, "{name}: the edit changes {file}");
                edited
            } else {
                text
            };
            std::fs::write(scratch.0.join(path.file_name().expect("name")), text).expect("write");
        }
        scratch
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The 1-based line of the first occurrence of `needle` in a rule file of rules/gharart.
fn line_of(file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(Path::new(&rules_dir()).join(file)).expect("readable");
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in {file}"));
    text[..at].matches('\n').count() + 1
}
#[test]
fn validate_passes_the_festive_rules_with_their_warnings() {
    let out = router(&["validate", &rules_dir()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("ok: 0 error(s), 5 warning(s)"), "{text}");
    let line = line_of("rules.json", "https://gharart-sale.shop/gulf");
    assert!(
        text.contains(&format!(
            "rules.json:{line}:22: warning[unroutable_destination] rules[10].destination (gulf-sale-shop): gharart-sale.shop was rejected"
        )),
        "{text}"
    );

    let out = router(&["--json", "validate", &rules_dir()]);
    assert_eq!(code(&out), 0);
    let report = json_out(&out);
    assert_eq!(report["ok"], true);
    for d in report["diagnostics"].as_array().expect("a list") {
        assert_eq!(d["severity"], "warning");
        assert_eq!(d["code"], "unroutable_destination");
        for key in ["file", "path", "id", "message", "line", "column"] {
            assert!(!d[key].is_null(), "{key} in {d}");
        }
    }
}

/// One broken copy: what is changed, and what `validate` must say about it.
struct Broken {
    name: &'static str,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    code: &'static str,
    /// `file:line:column: error[code] path (id)` without the directory.
    says: String,
}

impl Broken {
    fn run(&self) {
        let dir = Scratch::broken(self.name, self.file, |t| t.replacen(self.from, self.to, 1));
        let out = router(&["validate", dir.path()]);
        let text = stdout(&out);
        assert_eq!(code(&out), 1, "{}: exit 1\n{text}", self.name);
        assert!(
            text.contains(&format!("{}/{}", dir.path(), self.says)),
            "{}: says {:?}\n{text}",
            self.name,
            self.says
        );
        assert!(text.contains("invalid: "), "{}: {text}", self.name);

        let out = router(&["--json", "validate", dir.path()]);
        assert_eq!(code(&out), 1);
        let report = json_out(&out);
        assert_eq!(report["ok"], false);
        let found = report["diagnostics"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|d| d["code"] == self.code)
            .unwrap_or_else(|| panic!("{}: {} in {report}", self.name, self.code));
        assert_eq!(found["severity"], "error");
        assert!(found["file"]
            .as_str()
            .is_some_and(|f| f.ends_with(self.file)));
        assert!(found["line"].as_u64().is_some() && found["column"].as_u64().is_some());
    }
}

#[test]
fn validate_names_file_line_id_and_path_of_every_problem() {
    let rules = |needle| line_of("rules.json", needle);
    let cases = [
        Broken {
            name: "bad-json",
            file: "templates.json",
            from: "\"{rule}\"\n      },",
            to: "\"{rule}\"\n      }",
            code: "invalid_json",
            says: format!(
                "templates.json:{}:7: error[invalid_json]: expected `,` or `}}`",
                line_of("templates.json", "\"precedence\"")
            ),
        },
        Broken {
            name: "unknown-field",
            file: "rules.json",
            from: "{ \"region\": { \"in\": [\"IN-DL\"] } }",
            to: "{ \"regoin\": { \"in\": [\"IN-DL\"] } }",
            code: "unknown_field",
            says: format!(
                "rules.json:{}:30: error[unknown_field] rules[3].conditions.regoin (in-dl-delhi): unknown field `regoin`, expected one of",
                rules("\"IN-DL\"")
            ),
        },
        Broken {
            name: "wrong-type",
            file: "campaigns.json",
            from: "\"weight\": 50,",
            to: "\"weight\": \"50\",",
            code: "invalid_value",
            says: format!(
                "campaigns.json:{}:42: error[invalid_value] campaigns[0].variants[0].weight (diwali-hero-ab): invalid type: string \"50\", expected u8",
                line_of("campaigns.json", "diwali-hero-a\"")
            ),
        },
        Broken {
            name: "bad-country",
            file: "rules.json",
            from: "{ \"country\": { \"in\": [\"US\"] } },",
            to: "{ \"country\": { \"in\": [\"USA\"] } },",
            code: "invalid_country",
            says: format!(
                "rules.json:{}:43: error[invalid_country] rules[23].conditions.country.in[0] (us): not an ISO 3166-1 alpha-2 country code",
                rules("\"https://us.gharart.com/festive\"") - 1
            ),
        },
        Broken {
            name: "unknown-entry",
            file: "rules.json",
            from: "\"entries\": [\"diwali-sale\"],\n      \"conditions\": { \"country\": { \"in\": [\"GB\"] } }",
            to: "\"entries\": [\"diwali-sales\"],\n      \"conditions\": { \"country\": { \"in\": [\"GB\"] } }",
            code: "unknown_entry",
            says: format!(
                "rules.json:{}:19: error[unknown_entry] rules[25].entries[0] (uk-diwali-sale): no entry has the slug \"diwali-sales\"",
                rules("\"uk-diwali-sale\"") + 2
            ),
        },
        Broken {
            name: "duplicate-id",
            file: "rules.json",
            from: "\"id\": \"uk-mobile\"",
            to: "\"id\": \"in-tablet\"",
            code: "duplicate_id",
            says: format!(
                "rules.json:{}:13: error[duplicate_id] rules[16].id (in-tablet): another rule already has the id \"in-tablet\"",
                rules("\"uk-mobile\"")
            ),
        },
        Broken {
            name: "http-destination",
            file: "rules.json",
            from: "\"https://eu.gharart.com/festive\"",
            to: "\"http://eu.gharart.com/festive\"",
            code: "invalid_url",
            says: format!(
                "rules.json:{}:22: error[invalid_url] rules[19].destination (eu): only https destinations are routable",
                rules("\"https://eu.gharart.com/festive\"")
            ),
        },
    ];
    for case in &cases {
        case.run();
    }
}

#[test]
fn validate_of_a_missing_directory_cannot_run() {
    let out = router(&["validate", "/nonexistent/rules"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("/nonexistent/rules does not exist"));
    let out = router(&["--json", "validate", "/nonexistent/rules"]);
    assert_eq!(code(&out), 2);
    assert_eq!(json_out(&out)["error"]["code"], "usage");
}
#[test]
fn token_preview_verifies_with_the_secret() {
    let secret = "cli-test-secret";
    let out = router_with(
        &[
            "--json",
            "token",
            "preview",
            "--handle",
            "gharart",
            "--ttl",
            "600",
            "--dev-vars",
            "/nonexistent",
        ],
        &[("TOKEN_SECRET", secret)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let minted = json_out(&out);
    let token = minted["token"].as_str().expect("a token");
    let now = minted["expires_at"].as_i64().expect("expires_at") - 600;
    let signed = tokens::verify::<PreviewClaims>(TokenKind::Preview, secret.as_bytes(), token, now)
        .expect("the token verifies with the secret");
    assert_eq!(signed.claims.handle, "gharart");
    assert!(tokens::verify::<PreviewClaims>(TokenKind::Preview, b"other", token, now).is_err());

    let out = router(&[
        "token",
        "preview",
        "--handle",
        "gharart",
        "--dev-vars",
        "/nonexistent",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("TOKEN_SECRET is not set"));
}

#[test]
fn schema_prints_the_committed_schema_and_help_has_examples() {
    let out = router(&["schema"]);
    assert_eq!(code(&out), 0);
    let committed =
        std::fs::read_to_string(format!("{}/rules/schema.json", env!("CARGO_MANIFEST_DIR")))
            .expect("committed");
    assert_eq!(stdout(&out), committed);
    for command in [
        "validate", "preview", "matrix", "audit", "push", "history", "restore", "schema",
    ] {
        let text = stdout(&router(&[command, "--help"]));
        assert!(
            text.contains("Examples:\n  router "),
            "{command} --help has examples"
        );
        if command != "schema" {
            assert!(
                text.contains("Exit codes: 0"),
                "{command} --help states its exit codes"
            );
        }
    }
}
