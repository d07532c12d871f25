//! `router push` and `router snapshot`: publishing rule files to a running worker's
//! management API (`PUT /v2/handles/{handle}/configuration`), to local KV through
//! wrangler, or to a snapshot file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use edge_router::engine::snapshot::{snapshot_key, Revision, Snapshot};
use edge_router::model::files::FileDiagnostic;
use edge_router::{Diagnostic, HandleConfig, Severity};
use serde_json::{json, Value};

use crate::common::{print_json, rules_or_report, say, unix_now, CliError, CmdResult, Rules};
use crate::localkv::LocalKv;
use crate::locate;

/// What `router push` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PushArgs {
    /// The handle's rule directory.
    pub(crate) dir: PathBuf,
    /// Base URL of the worker, e.g. http://127.0.0.1:8787.
    #[arg(long, conflicts_with = "local")]
    pub(crate) api: Option<String>,
    /// API token (PAT or JWT) with the admin scope for the handle.
    #[arg(long, env = "ROUTER_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Read the API token from this file (e.g. .dev/pat-gharart).
    #[arg(long, conflicts_with = "token")]
    pub(crate) token_file: Option<PathBuf>,
    /// Idempotency-Key to send (default: a fresh random one); reuse one to retry safely.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
    /// Seconds to wait for the API.
    #[arg(long, default_value_t = 30)]
    pub(crate) timeout: u64,
    /// Write the snapshot to local KV with wrangler instead of calling the API.
    #[arg(long)]
    pub(crate) local: bool,
    /// wrangler's local state directory (with --local).
    #[arg(long, default_value = ".wrangler/state", requires = "local")]
    pub(crate) persist_to: PathBuf,
    /// The wrangler to run (with --local).
    #[arg(long, default_value = "node_modules/.bin/wrangler")]
    pub(crate) wrangler: PathBuf,
    /// Snapshot version (with --local; default: now in Unix seconds, above the current).
    #[arg(long, requires = "local")]
    pub(crate) version: Option<u64>,
    /// Snapshot generation (with --local; default: the current one). A higher one
    /// publishes a lower version on purpose: a rollback running isolates honour.
    #[arg(long, requires = "local")]
    pub(crate) generation: Option<u64>,
}

/// Validates the rule files, then publishes them; nothing is sent when they have errors.
pub(crate) fn push(args: &PushArgs, json: bool) -> CmdResult {
    let rules = match rules_or_report(&args.dir, json) {
        Ok(rules) => rules,
        Err(reported) => return reported,
    };
    match (&args.api, args.local) {
        (Some(api), false) => push_api(args, api, &rules, json),
        (None, true) => push_local(args, &rules, json),
        _ => Err(CliError::Usage(
            "say where to push: --api URL (with --token or --token-file), or --local".into(),
        )),
    }
}

/// A published snapshot's time, RFC 3339.
pub(crate) fn published_at() -> String {
    chrono::DateTime::from_timestamp(unix_now(), 0)
        .unwrap_or_default()
        .to_rfc3339()
}

/// The bearer token: `--token`, else the first line of `--token-file`; `scope` names
/// the scope it needs, for the message when there is neither.
pub(crate) fn bearer(
    token: Option<&str>,
    token_file: Option<&Path>,
    scope: &str,
) -> Result<String, CliError> {
    if let Some(token) = token {
        return Ok(token.trim().to_owned());
    }
    let Some(path) = token_file else {
        return Err(CliError::Usage(format!(
            "--api needs a token with the {scope} scope: --token, ROUTER_TOKEN, or --token-file \
             (e.g. .dev/pat-gharart, written by `make dev`)"
        )));
    };
    let text = std::fs::read_to_string(path).map_err(|error| CliError::Io {
        path: path.to_owned(),
        error,
    })?;
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// The API URL: https, or plain http to this machine only (`make dev`): the token and
/// the whole configuration must not cross a network in clear text.
pub(crate) fn check_api_url(api: &str, base: &str) -> Result<(), CliError> {
    let parsed = url::Url::parse(base).map_err(|_| {
        CliError::Usage(format!(
            "--api {api:?} is not an http(s) URL such as http://127.0.0.1:8787"
        ))
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(CliError::Usage(format!(
            "--api {api:?} is plain http to another machine: the token and the configuration would travel in clear text; use https (plain http only to 127.0.0.1 or localhost)"
        ))),
        _ => Err(CliError::Usage(format!(
            "--api {api:?} is not an http(s) URL such as http://127.0.0.1:8787"
        ))),
    }
}

fn push_api(args: &PushArgs, api: &str, rules: &Rules, json: bool) -> CmdResult {
    let handle = &rules.config.handle;
    let base = api.trim().trim_end_matches('/');
    let url = format!("{base}/v2/handles/{handle}/configuration");
    check_api_url(api, base)?;
    let token = bearer(args.token.as_deref(), args.token_file.as_deref(), "admin")?;
    let key = match &args.idempotency_key {
        Some(key) => key.clone(),
        None => crate::remote::new_key("router-push")?,
    };
    let body = serde_json::to_string(&rules.config)
        .map_err(|e| CliError::Usage(format!("cannot render the configuration: {e}")))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(args.timeout.max(1))))
        .user_agent(concat!("router/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let sent = agent
        .put(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Idempotency-Key", &key)
        .content_type("application/json")
        .send(body.as_str());
    let mut response = sent.map_err(|e| {
        let local = ["://127.0.0.1", "://localhost", "://[::1]"]
            .iter()
            .any(|h| base.contains(h));
        let hint = if local {
            " Is the worker running (`make dev` serves http://127.0.0.1:8787)?"
        } else {
            ""
        };
        CliError::Unreachable(format!(
            "cannot reach {url}: {e}.{hint} Nothing was changed; to retry safely, pass \
             --idempotency-key {key}"
        ))
    })?;
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("Idempotent-Replayed")
        .is_some_and(|v| v.as_bytes() == b"true");
    let request_id = response
        .headers()
        .get("X-Request-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let answer: Option<Value> = serde_json::from_str(&text).ok();
    if !(200..300).contains(&status) {
        return Err(api_error(status, answer, &text, request_id, rules));
    }
    let version = answer.as_ref().and_then(|a| a["version"].as_u64());
    let warnings = located(answer.as_ref().map(|a| &a["warnings"]), rules);
    if json {
        print_json(&json!({
            "ok": true, "handle": handle, "target": url, "version": version,
            "replayed": replayed, "idempotency_key": key, "request_id": request_id,
            "warnings": warnings,
        }))?;
    } else {
        let version = version.map_or("?".to_owned(), |v| v.to_string());
        let again = if replayed {
            " (a replay: already pushed)"
        } else {
            ""
        };
        say!("pushed {handle} to {base}: version {version}{again}");
        print_warnings(&warnings);
    }
    Ok(ExitCode::SUCCESS)
}

/// The API's error envelope as a command error, its diagnostics located in the files.
fn api_error(
    status: u16,
    answer: Option<Value>,
    text: &str,
    request_id: Option<String>,
    rules: &Rules,
) -> CliError {
    let error = answer
        .as_ref()
        .map(|a| &a["error"])
        .filter(|e| e.is_object());
    let Some(error) = error else {
        let snippet: String = text.chars().take(200).collect();
        return CliError::Api {
            status,
            code: "unexpected_response".into(),
            message: format!("not the API's error envelope: {snippet:?}"),
            request_id,
            details: None,
        };
    };
    let code = error["code"].as_str().unwrap_or("unknown").to_owned();
    let details = match &error["details"] {
        Value::Array(_) => Some(json!(located(Some(&error["details"]), rules))),
        Value::Null => None,
        other => Some(other.clone()),
    };
    CliError::Api {
        status,
        code,
        message: error["message"].as_str().unwrap_or_default().to_owned(),
        request_id: error["request_id"]
            .as_str()
            .map(str::to_owned)
            .or(request_id),
        details,
    }
}

/// The API's diagnostics (paths from the configuration root, `$.`-prefixed or not),
/// located in the rule files.
fn located(list: Option<&Value>, rules: &Rules) -> Vec<FileDiagnostic> {
    let Some(items) = list.and_then(Value::as_array) else {
        return Vec::new();
    };
    let found = items
        .iter()
        .map(|item| {
            let path = item["path"].as_str().unwrap_or_default();
            let probe = Diagnostic {
                severity: if item["severity"] == "error" {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                code: known_code(item["code"].as_str().unwrap_or_default()),
                path: path.strip_prefix("$.").unwrap_or(path).to_owned(),
                id: item["id"].as_str().map(str::to_owned),
                message: item["message"].as_str().unwrap_or_default().to_owned(),
            };
            rules.origins.locate(&probe)
        })
        .collect();
    locate::lines(found)
}

/// The API's diagnostic code, as the `'static` string [`Diagnostic`] holds (a short-lived
/// process: leaking the few codes of one answer is simpler than a second type).
fn known_code(code: &str) -> &'static str {
    Box::leak(code.to_owned().into_boxed_str())
}

fn print_warnings(warnings: &[FileDiagnostic]) {
    for w in warnings {
        say!("{w}");
    }
}

/// Publishes the snapshot to local KV with `wrangler kv key put --local`, at a revision
/// above what local KV holds (a snapshot or a tombstone: pushing lifts a takedown).
fn push_local(args: &PushArgs, rules: &Rules, json: bool) -> CmdResult {
    let handle = &rules.config.handle;
    let key = snapshot_key(handle);
    let kv = LocalKv {
        persist_to: &args.persist_to,
        wrangler: &args.wrangler,
    };
    let current = kv.head(&key).map(|head| head.revision);
    let revision = next_revision(current, args.generation, args.version)?;
    let snapshot = Snapshot::new(rules.config.clone(), revision.version, published_at())
        .in_generation(revision.generation);
    kv.put(&key, &stored(&snapshot)?)?;
    let persist = kv.persist();
    if json {
        print_json(&json!({
            "ok": true, "handle": handle, "target": "local", "key": key,
            "version": revision.version, "generation": revision.generation,
            "persist_to": persist, "warnings": rules.warnings,
        }))?;
    } else {
        say!("pushed {handle} to local KV ({key} in {persist}): {revision}");
        print_warnings(&rules.warnings);
    }
    Ok(ExitCode::SUCCESS)
}

/// The revision to publish above `current`: the generation given or the current one; the
/// version given or (Unix time, above the current one's in the same generation). A
/// revision that is not above the current one is refused: warm isolates would keep
/// serving what they hold. Stepping back to a lower version on purpose takes a higher
/// `--generation`.
pub(crate) fn next_revision(
    current: Option<Revision>,
    generation: Option<u64>,
    version: Option<u64>,
) -> Result<Revision, CliError> {
    let generation = generation.unwrap_or(current.map_or(0, |c| c.generation));
    let version = version.unwrap_or_else(|| {
        let floor = current
            .filter(|c| c.generation == generation)
            .map_or(0, |c| c.version + 1);
        (unix_now() as u64).max(floor)
    });
    let revision = Revision {
        generation,
        version,
    };
    match current {
        Some(current) if revision <= current => Err(CliError::Usage(format!(
            "{revision} is not above the {current} local KV holds: running isolates would keep \
             serving that. To go back to a lower version on purpose, pass --generation {}",
            current.generation + 1
        ))),
        _ => Ok(revision),
    }
}

/// `router snapshot`: the compiled snapshot JSON, to standard output or a file.
pub(crate) fn snapshot(
    dir: &Path,
    revision: (Option<u64>, u64),
    out: Option<(&Path, bool)>,
    grow: Option<(usize, usize, usize)>,
    json: bool,
) -> CmdResult {
    let rules = match rules_or_report(dir, json) {
        Ok(rules) => rules,
        Err(reported) => return reported,
    };
    let config: HandleConfig = match grow {
        Some((count, countries, domains)) => {
            crate::synth::expand(&rules.config, count, countries, domains)
        }
        None => rules.config,
    };
    edge_router::engine::compile::compile(&config).map_err(|e| {
        CliError::Usage(format!("the expanded configuration does not compile: {e}"))
    })?;
    let (version, generation) = revision;
    let version = version.unwrap_or(unix_now() as u64);
    let snapshot = Snapshot::new(config, version, published_at()).in_generation(generation);
    match out {
        Some((path, edge_form)) => {
            let bytes = if edge_form {
                stored(&snapshot)?
            } else {
                snapshot_json(snapshot)?.into_bytes()
            };
            std::fs::write(path, bytes).map_err(|error| CliError::Io {
                path: path.to_owned(),
                error,
            })?;
            if json {
                print_json(&json!({ "ok": true, "out": path, "version": version }))?;
            }
        }
        None => say!("{}", snapshot_json(snapshot)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The value a publisher stores: the JSON and the edge form.
fn stored(snapshot: &Snapshot) -> Result<Vec<u8>, CliError> {
    snapshot
        .to_stored()
        .map_err(|e| CliError::Usage(format!("cannot serialise the snapshot: {e}")))
}

fn snapshot_json(snapshot: Snapshot) -> Result<String, CliError> {
    snapshot
        .to_json()
        .map_err(|e| CliError::Usage(format!("cannot serialise the snapshot: {e}")))
}
