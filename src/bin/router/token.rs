//! `router token preview` and `router pat`: credentials minted locally.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use edge_router::api::auth::{new_pat, pat_hash, Scope};
use edge_router::visit::tokens::{self, PreviewClaims, TokenKind};

use crate::common::{print_json, say, unix_now, CliError, CmdResult};

/// Reads `TOKEN_SECRET` from the environment, else from a `KEY=VALUE` dev vars file.
fn token_secret(dev_vars: &Path) -> Result<String, CliError> {
    if let Ok(secret) = std::env::var("TOKEN_SECRET") {
        return Ok(secret);
    }
    let text = fs::read_to_string(dev_vars).map_err(|e| {
        CliError::Usage(format!(
            "TOKEN_SECRET is not set and {} cannot be read ({e}); run `make dev` once to create it",
            dev_vars.display()
        ))
    })?;
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .find(|(key, _)| key.trim() == "TOKEN_SECRET")
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .ok_or_else(|| CliError::Usage(format!("{} has no TOKEN_SECRET", dev_vars.display())))
}

/// Mints a preview token for `handle`, valid `ttl` seconds.
pub(crate) fn preview(
    handle: &str,
    ttl: i64,
    sub: Option<String>,
    dev_vars: &Path,
    json: bool,
) -> CmdResult {
    if ttl <= 0 {
        return Err(CliError::Usage("--ttl must be positive".into()));
    }
    if !edge_router::model::ids::is_valid_slug(handle) {
        return Err(CliError::Usage(format!("{handle:?} is not a handle")));
    }
    let secret = token_secret(dev_vars)?;
    let issued = unix_now();
    let token = tokens::sign(
        TokenKind::Preview,
        secret.as_bytes(),
        PreviewClaims {
            handle: handle.to_owned(),
            sub,
        },
        issued,
        ttl,
    );
    if json {
        print_json(
            &serde_json::json!({ "token": token, "handle": handle, "expires_at": issued + ttl }),
        )?;
    } else {
        say!("{token}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Quotes a value as an SQL string literal.
fn sql_text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Creates a personal access token and the SQL that stores its hash.
pub(crate) fn pat(
    handle: &str,
    scopes: &str,
    sub: &str,
    days: Option<i64>,
    json: bool,
) -> CmdResult {
    if !edge_router::model::ids::is_valid_slug(handle) {
        return Err(CliError::Usage(format!("{handle:?} is not a handle")));
    }
    let unknown: Vec<&str> = scopes
        .split_whitespace()
        .filter(|s| Scope::parse(s).is_none())
        .collect();
    if !unknown.is_empty() || scopes.trim().is_empty() {
        let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        return Err(CliError::Usage(format!(
            "unknown scope(s) {unknown:?}; known: {}",
            known.join(" ")
        )));
    }
    let mut random = [0u8; 32];
    getrandom::getrandom(&mut random).map_err(|e| CliError::Tool(format!("no randomness: {e}")))?;
    let token = new_pat(&random);
    let hash = pat_hash(&token);
    let now = unix_now();
    let expires = days.map(|d| now + d * 86_400);
    let created = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .to_rfc3339();
    let sql = format!(
        "INSERT INTO api_tokens (hash, handle, scopes, sub, expires_at, revoked, created_at) VALUES ({}, {}, {}, {}, {}, 0, {});",
        sql_text(&hash),
        sql_text(handle),
        sql_text(scopes.trim()),
        sql_text(sub),
        expires.map_or("NULL".to_owned(), |e| e.to_string()),
        sql_text(&created),
    );
    if json {
        print_json(
            &serde_json::json!({ "token": token, "hash": hash, "handle": handle, "scopes": scopes.trim(), "sub": sub, "expires_at": expires, "sql": sql }),
        )?;
    } else {
        say!("token: {token}\nstore it with (D1): {sql}");
    }
    Ok(ExitCode::SUCCESS)
}
