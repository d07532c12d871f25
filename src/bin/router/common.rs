//! What the commands share: exit codes, the command error, JSON output, and loading a
//! rule directory into a compiled rule set with every diagnostic located in its file.

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use edge_router::model::files::{load_dir, FileDiagnostic, Origins};
use edge_router::{compile, Compiled, HandleConfig, Severity};
use serde::Serialize;

use crate::locate;

/// Exit code 0: done, nothing wrong.
pub(crate) const OK: u8 = 0;
/// Exit code 1: the command ran and found problems (invalid rule files, a visitor who is
/// not routable, audit findings asked to fail, a configuration the API refused).
pub(crate) const PROBLEMS: u8 = 1;
/// Exit code 2: the command could not run (usage, I/O, network, API errors).
pub(crate) const CANNOT_RUN: u8 = 2;

/// Why a command could not do its job (exit code 2, unless [`CliError::exit_code`] says
/// otherwise).
#[derive(Debug)]
pub(crate) enum CliError {
    /// An argument is wrong in a way the parser cannot see (a bad time, an unknown entry).
    Usage(String),
    /// A file or directory could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// A program the command runs (wrangler) is missing or failed.
    Tool(String),
    /// The management API could not be reached or answered something that is not JSON.
    Unreachable(String),
    /// The management API refused the request with its error envelope.
    Api {
        /// HTTP status.
        status: u16,
        /// The API's stable error code.
        code: String,
        /// The API's message.
        message: String,
        /// The request id, for support.
        request_id: Option<String>,
        /// The API's details (diagnostics for `validation_failed`), located in the rule
        /// files where possible.
        details: Option<serde_json::Value>,
    },
}

impl CliError {
    /// A stable code for `--json` output.
    pub(crate) fn code(&self) -> &str {
        match self {
            Self::Usage(_) => "usage",
            Self::Io { .. } => "io",
            Self::Tool(_) => "tool_failed",
            Self::Unreachable(_) => "unreachable",
            Self::Api { code, .. } => code,
        }
    }

    /// 1 when the API refused the configuration itself (it does not validate); 2 else.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Api { code, .. } if code == "validation_failed" || code == "invalid_body" => {
                PROBLEMS
            }
            _ => CANNOT_RUN,
        }
    }

    /// The error as `--json` prints it.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        error.insert("code".into(), self.code().into());
        error.insert("message".into(), self.to_string().into());
        if let Self::Api {
            status,
            request_id,
            details,
            ..
        } = self
        {
            error.insert("status".into(), (*status).into());
            error.insert("request_id".into(), serde_json::json!(request_id));
            if let Some(details) = details {
                error.insert("details".into(), details.clone());
            }
        }
        serde_json::json!({ "ok": false, "error": error })
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Tool(message) | Self::Unreachable(message) => {
                f.write_str(message)
            }
            Self::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Api {
                status,
                code,
                message,
                request_id,
                ..
            } => {
                write!(f, "the API answered {status} {code}: {message}")?;
                if let Some(id) = request_id {
                    write!(f, " (request id {id})")?;
                }
                Ok(())
            }
        }
    }
}

/// A command's result: the exit code it chose, or why it could not run.
pub(crate) type CmdResult = Result<ExitCode, CliError>;

/// Exit code 0 when `ok`, else 1.
pub(crate) fn exit(ok: bool) -> ExitCode {
    ExitCode::from(if ok { OK } else { PROBLEMS })
}

/// Writes to standard output; when the reader has gone away (`router ... | head`), stops
/// quietly with exit code 2 instead of panicking.
pub(crate) fn write_out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_fmt(text)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(i32::from(CANNOT_RUN));
    }
}

/// `println!` through [`write_out`].
macro_rules! say {
    () => {
        $crate::common::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::common::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say;

/// Prints a value as JSON: indented on a terminal, one line otherwise (for scripts).
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    let text = text.map_err(|e| CliError::Usage(format!("cannot render JSON: {e}")))?;
    say!("{text}");
    Ok(())
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Parses `--at`: an RFC 3339 time; none means now.
pub(crate) fn parse_at(at: Option<&str>) -> Result<DateTime<Utc>, CliError> {
    match at {
        None => Ok(DateTime::from_timestamp(unix_now(), 0).unwrap_or_default()),
        Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                CliError::Usage(format!(
                    "--at {raw:?} is not an RFC 3339 time such as 2026-11-06T10:00:00+05:30 ({e})"
                ))
            }),
    }
}

/// Whether any diagnostic is an error.
pub(crate) fn has_errors(diagnostics: &[FileDiagnostic]) -> bool {
    diagnostics
        .iter()
        .any(|d| d.diagnostic.severity == Severity::Error)
}

/// A rule directory that loaded and compiled.
#[derive(Debug)]
pub(crate) struct Rules {
    /// The merged configuration.
    pub(crate) config: HandleConfig,
    /// Where each part came from.
    pub(crate) origins: Origins,
    /// The compiled rule set with its warnings.
    pub(crate) compiled: Compiled,
    /// The warnings, located in their files.
    pub(crate) warnings: Vec<FileDiagnostic>,
}

/// A usage error unless `dir` is a directory.
pub(crate) fn check_dir(dir: &Path) -> Result<(), CliError> {
    if dir.is_dir() {
        return Ok(());
    }
    let what = if dir.exists() {
        "is not a directory"
    } else {
        "does not exist"
    };
    Err(CliError::Usage(format!(
        "{} {what}: give a handle's rule directory, e.g. rules/gharart",
        dir.display()
    )))
}

/// Loads, merges and compiles a rule directory. `Err` holds every diagnostic (errors
/// first), each located in its file with line and column.
pub(crate) fn load_rules(dir: &Path) -> Result<Rules, Vec<FileDiagnostic>> {
    let (config, origins) = load_dir(dir).map_err(locate::lines)?;
    match compile(&config) {
        Ok(compiled) => {
            let warnings = locate::lines(
                compiled
                    .warnings
                    .iter()
                    .map(|d| origins.locate(d))
                    .collect(),
            );
            Ok(Rules {
                config,
                origins,
                compiled,
                warnings,
            })
        }
        Err(e) => Err(locate::lines(
            e.diagnostics.iter().map(|d| origins.locate(d)).collect(),
        )),
    }
}

/// Reports rule files that do not compile: every diagnostic on standard error, or
/// `{ok: false, diagnostics}` with `--json`; exit code 1.
pub(crate) fn report_invalid(dir: &Path, diagnostics: &[FileDiagnostic], json: bool) -> CmdResult {
    if json {
        print_json(&serde_json::json!({ "ok": false, "diagnostics": diagnostics }))?;
    } else {
        for d in diagnostics {
            eprintln!("{d}");
        }
        let errors = diagnostics
            .iter()
            .filter(|d| d.diagnostic.severity == Severity::Error)
            .count();
        eprintln!(
            "{}: {errors} error(s); fix them first (`router validate {}`)",
            dir.display(),
            dir.display()
        );
    }
    Ok(exit(false))
}

/// Loads a rule directory or reports why not: the caller returns `Err`'s result as is.
pub(crate) fn rules_or_report(dir: &Path, json: bool) -> Result<Rules, CmdResult> {
    check_dir(dir).map_err(Err)?;
    load_rules(dir).map_err(|diagnostics| report_invalid(dir, &diagnostics, json))
}

/// An entry of the rule set, or a usage error naming the entries there are.
pub(crate) fn check_entry(rules: &Rules, entry: &str) -> Result<(), CliError> {
    let ruleset = &rules.compiled.ruleset;
    if ruleset.entry(entry).is_some() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "handle {} has no entry {entry:?}; its entries: {}",
        ruleset.handle(),
        ruleset.entry_slugs().join(", ")
    )))
}
