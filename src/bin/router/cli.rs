//! Command-line parsing and the commands themselves.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use edge_router::api::auth::{new_pat, pat_hash, Scope};
use edge_router::rulefiles::{load_dir, FileDiagnostic, Origins};
use edge_router::snapshot::Snapshot;
use edge_router::token::{self, PreviewClaims, TokenKind};
use edge_router::{validate, HandleConfig, Severity};

/// Rule-file tool of the edge personalization router.
#[derive(Debug, Parser)]
#[command(name = "router", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a handle's rule files; every problem with file, id and JSON path. Exits 1 on errors.
    Validate {
        /// The handle's rule directory, e.g. rules/gharart.
        dir: PathBuf,
    },
    /// Compile rule files into the snapshot JSON that KV holds under `snapshot:<handle>`.
    Snapshot {
        /// The handle's rule directory.
        dir: PathBuf,
        /// Snapshot version to stamp (default: the current Unix time, so re-seeding moves forward).
        #[arg(long)]
        version: Option<u64>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Grow the configuration to this many rules (benchmarks, load tests): generated
        /// rules over `--countries` countries and `--domains` destination domains.
        #[arg(long)]
        expand: Option<usize>,
        /// Countries the generated rules cover (with --expand; 1-40).
        #[arg(long, default_value_t = 40)]
        countries: usize,
        /// Generated destination domains (with --expand).
        #[arg(long, default_value_t = 500)]
        domains: usize,
    },
    /// Mint tokens from the local secret (TOKEN_SECRET in the environment, else in --dev-vars).
    Token {
        #[command(subcommand)]
        kind: TokenCommand,
    },
    /// Create a personal access token for the management API: prints the token once and
    /// the SQL that stores its SHA-256 (never the token) in D1's api_tokens table.
    Pat {
        /// The handle the token may manage.
        #[arg(long)]
        handle: String,
        /// Space-separated scopes (e.g. "rules:read rules:write", or "admin").
        #[arg(long, default_value = "admin")]
        scopes: String,
        /// Who the token is for (recorded as the author of changes).
        #[arg(long, default_value = "developer")]
        sub: String,
        /// Lifetime in days (none: until revoked).
        #[arg(long)]
        days: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// A preview token: query overrides on /{handle}/{slug} take effect with `__preview=<token>`.
    Preview {
        /// The handle the token may preview.
        #[arg(long)]
        handle: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        /// Who the token is for (shown in the explain trace).
        #[arg(long)]
        sub: Option<String>,
        /// The wrangler dev vars file to read TOKEN_SECRET from.
        #[arg(long, default_value = ".dev.vars")]
        dev_vars: PathBuf,
    },
}

/// Runs the tool.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { dir } => cmd_validate(&dir, cli.json),
        Command::Snapshot {
            dir,
            version,
            out,
            expand,
            countries,
            domains,
        } => {
            let grow = expand.map(|rules| (rules, countries, domains));
            cmd_snapshot(&dir, version, out.as_deref(), grow)
        }
        Command::Token {
            kind:
                TokenCommand::Preview {
                    handle,
                    ttl,
                    sub,
                    dev_vars,
                },
        } => cmd_token(&handle, ttl, sub, &dev_vars, cli.json),
        Command::Pat {
            handle,
            scopes,
            sub,
            days,
        } => cmd_pat(&handle, &scopes, &sub, days, cli.json),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Loads and validates a rule directory; all diagnostics located in their files.
fn load(dir: &Path) -> (Option<HandleConfig>, Vec<FileDiagnostic>) {
    match load_dir(dir) {
        Ok((config, origins)) => {
            let located = validate(&config)
                .iter()
                .map(|d| Origins::locate(&origins, d))
                .collect();
            (Some(config), located)
        }
        Err(problems) => (None, problems),
    }
}

fn has_errors(diagnostics: &[FileDiagnostic]) -> bool {
    diagnostics
        .iter()
        .any(|d| d.diagnostic.severity == Severity::Error)
}

fn cmd_validate(dir: &Path, json: bool) -> Result<ExitCode, String> {
    let (_, diagnostics) = load(dir);
    let failed = has_errors(&diagnostics);
    if json {
        let out = serde_json::json!({ "ok": !failed, "diagnostics": diagnostics });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        for d in &diagnostics {
            println!("{d}");
        }
        let errors = diagnostics
            .iter()
            .filter(|d| d.diagnostic.severity == Severity::Error)
            .count();
        println!(
            "{}: {errors} error(s), {} warning(s)",
            dir.display(),
            diagnostics.len() - errors
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_snapshot(
    dir: &Path,
    version: Option<u64>,
    out: Option<&Path>,
    grow: Option<(usize, usize, usize)>,
) -> Result<ExitCode, String> {
    let (config, diagnostics) = load(dir);
    for d in diagnostics
        .iter()
        .filter(|d| d.diagnostic.severity == Severity::Error)
    {
        eprintln!("{d}");
    }
    let Some(config) = config.filter(|_| !has_errors(&diagnostics)) else {
        return Ok(ExitCode::FAILURE);
    };
    let published = chrono::DateTime::from_timestamp(now(), 0)
        .unwrap_or_default()
        .to_rfc3339();
    let config = match grow {
        Some((rules, countries, domains)) => {
            edge_router::synth::expand(&config, rules, countries, domains)
        }
        None => config,
    };
    edge_router::compile(&config)
        .map_err(|e| format!("the expanded configuration does not compile: {e}"))?;
    let snapshot = Snapshot::new(config, version.unwrap_or(now() as u64), published);
    let json = snapshot.to_json();
    match out {
        Some(path) => {
            fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?
        }
        None => println!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `TOKEN_SECRET` from the environment, else from a `KEY=VALUE` dev vars file.
fn token_secret(dev_vars: &Path) -> Result<String, String> {
    if let Ok(secret) = std::env::var("TOKEN_SECRET") {
        return Ok(secret);
    }
    let text = fs::read_to_string(dev_vars).map_err(|e| {
        format!(
            "TOKEN_SECRET is not set and {} cannot be read ({e}); run `make dev` once to create it",
            dev_vars.display()
        )
    })?;
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .find(|(key, _)| key.trim() == "TOKEN_SECRET")
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .ok_or_else(|| format!("{} has no TOKEN_SECRET", dev_vars.display()))
}

fn cmd_token(
    handle: &str,
    ttl: i64,
    sub: Option<String>,
    dev_vars: &Path,
    json: bool,
) -> Result<ExitCode, String> {
    if ttl <= 0 {
        return Err("--ttl must be positive".into());
    }
    let secret = token_secret(dev_vars)?;
    let issued = now();
    let token = token::sign(
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
        println!(
            "{}",
            serde_json::json!({ "token": token, "handle": handle, "expires_at": issued + ttl })
        );
    } else {
        println!("{token}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Quotes a value as an SQL string literal.
fn sql_text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn cmd_pat(
    handle: &str,
    scopes: &str,
    sub: &str,
    days: Option<i64>,
    json: bool,
) -> Result<ExitCode, String> {
    if !edge_router::compile::is_valid_slug(handle) {
        return Err(format!("{handle:?} is not a handle"));
    }
    let unknown: Vec<&str> = scopes
        .split_whitespace()
        .filter(|s| Scope::parse(s).is_none())
        .collect();
    if !unknown.is_empty() || scopes.trim().is_empty() {
        let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "unknown scope(s) {unknown:?}; known: {}",
            known.join(" ")
        ));
    }
    let mut random = [0u8; 32];
    getrandom::getrandom(&mut random).map_err(|e| format!("no randomness: {e}"))?;
    let token = new_pat(&random);
    let hash = pat_hash(&token);
    let expires = days.map(|d| now() + d * 86_400);
    let created = chrono::DateTime::from_timestamp(now(), 0)
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
        println!(
            "{}",
            serde_json::json!({ "token": token, "hash": hash, "handle": handle, "scopes": scopes.trim(), "sub": sub, "expires_at": expires, "sql": sql })
        );
    } else {
        println!("token: {token}\nstore it with (D1): {sql}");
    }
    Ok(ExitCode::SUCCESS)
}
