//! `router history` and `router restore`: the change history of a handle's configuration
//! from a running worker (`GET /v2/handles/{handle}/changes[/{version}]`), and restoring
//! a version (`POST .../changes/{version}/restore`).

use std::process::ExitCode;

use edge_router::model::ids::is_valid_slug;
use serde_json::{json, Value};

use crate::common::{print_json, say, CliError, CmdResult};
use crate::remote::{new_key, RemoteArgs};

/// What `router history` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HistoryArgs {
    /// Show this version with its whole diff instead of the list.
    pub(crate) version: Option<u64>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Entries to list, 1 to 100.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) limit: u64,
    /// List versions below this one (the `next_before` of a previous page).
    #[arg(long, conflicts_with = "version")]
    pub(crate) before: Option<u64>,
}

/// What `router restore` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RestoreArgs {
    /// The version to restore (see `router history`).
    pub(crate) version: u64,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Idempotency-Key to send (default: a fresh random one); reuse one to retry safely.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
}

fn handle_path(remote: &RemoteArgs) -> Result<String, CliError> {
    if !is_valid_slug(&remote.handle) {
        return Err(CliError::Usage(format!(
            "--handle {:?} is not a handle (lower-case letters, digits and -)",
            remote.handle
        )));
    }
    Ok(format!("/v2/handles/{}", remote.handle))
}

/// Lists the history, or shows one version.
pub(crate) fn history(args: &HistoryArgs, json: bool) -> CmdResult {
    let base = handle_path(&args.remote)?;
    let path = match (args.version, args.before) {
        (Some(version), _) => format!("{base}/changes/{version}"),
        (None, Some(before)) => format!("{base}/changes?limit={}&before={before}", args.limit),
        (None, None) => format!("{base}/changes?limit={}", args.limit),
    };
    let answer = args.remote.send("GET", &path, None, None)?;
    if json {
        let mut out = json!({ "ok": true, "request_id": answer.request_id });
        if let (Some(out), Some(body)) = (out.as_object_mut(), answer.body.as_object()) {
            out.extend(body.clone());
        }
        print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let body = &answer.body;
    match args.version {
        Some(_) => print_change(&body["change"]),
        None => {
            say!(
                "{}: version {} (newest first)",
                args.remote.handle,
                body["version"]
            );
            for change in body["changes"].as_array().into_iter().flatten() {
                say!("{}", line(change));
            }
            if let Some(next) = body["next_before"].as_u64() {
                say!("older: router history --before {next}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One entry in a line: version, time, who, what wrote it, and which ids changed.
fn line(change: &Value) -> String {
    let what = match (change["kind"].as_str(), change["restored_from"].as_u64()) {
        (Some("baseline"), _) => "baseline (found without a recorded write)".to_owned(),
        (_, Some(from)) => format!("restore of v{from}"),
        _ => change["route"].as_str().unwrap_or_default().to_owned(),
    };
    let summary = summary(&change["summary"]);
    format!(
        "v{:<5} {}  {}  {what}{}{summary}",
        change["version"],
        change["at"].as_str().unwrap_or_default(),
        change["subject"].as_str().unwrap_or_default(),
        if summary.is_empty() { "" } else { "  " },
    )
}

/// `rules ~in-mobile +new -old; settings ~$.fallback`.
fn summary(summary: &Value) -> String {
    let mut parts = Vec::new();
    let ids = |v: &Value, sign: &str| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|id| format!("{sign}{id}"))
            .collect()
    };
    let settings = ids(&summary["settings"], "~");
    if !settings.is_empty() {
        parts.push(format!("settings {}", settings.join(" ")));
    }
    for name in ["entries", "rules", "domains", "templates", "campaigns"] {
        let c = &summary[name];
        let mut all = ids(&c["added"], "+");
        all.extend(ids(&c["removed"], "-"));
        all.extend(ids(&c["changed"], "~"));
        if !all.is_empty() {
            parts.push(format!("{name} {}", all.join(" ")));
        }
    }
    if summary["truncated"] == true {
        parts.push("(truncated)".into());
    }
    parts.join("; ")
}

/// One entry with its whole diff: every changed path with its values.
fn print_change(change: &Value) {
    say!("{}", line(change));
    if let Some(id) = change["request_id"].as_str() {
        say!("  request id {id}");
    }
    let diff = &change["diff"];
    for field in diff["settings"].as_array().into_iter().flatten() {
        say!("  settings {}", field_text(field));
    }
    for name in ["entries", "rules", "domains", "templates", "campaigns"] {
        let c = &diff[name];
        for id in c["added"].as_array().into_iter().flatten() {
            say!("  {name} +{}", id.as_str().unwrap_or_default());
        }
        for id in c["removed"].as_array().into_iter().flatten() {
            say!("  {name} -{}", id.as_str().unwrap_or_default());
        }
        for item in c["changed"].as_array().into_iter().flatten() {
            say!("  {name} ~{}", item["id"].as_str().unwrap_or_default());
            for field in item["fields"].as_array().into_iter().flatten() {
                say!("      {}", field_text(field));
            }
        }
    }
}

fn field_text(field: &Value) -> String {
    let show = |v: &Value| match v {
        Value::Null => "(absent)".to_owned(),
        other => other.to_string(),
    };
    let path = field["path"].as_str().unwrap_or_default();
    if field["elided"] == true {
        return format!("{path}: (too long to show)");
    }
    format!(
        "{path}: {} -> {}",
        show(&field["before"]),
        show(&field["after"])
    )
}

/// Restores a version as a new one.
pub(crate) fn restore(args: &RestoreArgs, json: bool) -> CmdResult {
    let base = handle_path(&args.remote)?;
    let key = match &args.idempotency_key {
        Some(key) => key.clone(),
        None => new_key("router-restore")?,
    };
    let path = format!("{base}/changes/{}/restore", args.version);
    let answer = args.remote.send("POST", &path, None, Some(&key))?;
    let body = &answer.body;
    if json {
        print_json(&json!({
            "ok": true, "handle": args.remote.handle, "version": body["version"],
            "restored_from": body["restored_from"], "warnings": body["warnings"],
            "replayed": answer.replayed, "idempotency_key": key, "request_id": answer.request_id,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let again = if answer.replayed {
        " (a replay: already restored)"
    } else {
        ""
    };
    say!(
        "restored {} version {} as version {}{again}",
        args.remote.handle,
        args.version,
        body["version"]
    );
    for w in body["warnings"].as_array().into_iter().flatten() {
        let id = w["id"]
            .as_str()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
        say!(
            "{}[{}] {}{id}: {}",
            w["severity"].as_str().unwrap_or("warning"),
            w["code"].as_str().unwrap_or_default(),
            w["path"].as_str().unwrap_or_default(),
            w["message"].as_str().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
