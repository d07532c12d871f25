//! `router validate` and `router schema`: checking rule files, and the JSON Schema editors
//! check them with as they are typed.

use std::path::Path;
use std::process::ExitCode;

use edge_router::model::files::{rule_file_schema, FileDiagnostic};
use edge_router::Severity;

use crate::common::{
    check_dir, exit, has_errors, load_rules, print_json, say, write_out, CliError, CmdResult,
};

/// Every problem of a rule directory, errors first; exit 1 when there is an error.
pub(crate) fn validate(dir: &Path, json: bool) -> CmdResult {
    check_dir(dir)?;
    let diagnostics = match load_rules(dir) {
        Ok(rules) => rules.warnings,
        Err(diagnostics) => diagnostics,
    };
    let failed = has_errors(&diagnostics);
    if json {
        print_json(&serde_json::json!({ "ok": !failed, "diagnostics": diagnostics }))?;
    } else {
        print_text(dir, &diagnostics);
    }
    Ok(exit(!failed))
}

fn print_text(dir: &Path, diagnostics: &[FileDiagnostic]) {
    for d in diagnostics {
        say!("{d}");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.diagnostic.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let verdict = if errors == 0 { "ok" } else { "invalid" };
    say!(
        "{}: {verdict}: {errors} error(s), {warnings} warning(s)",
        dir.display()
    );
}

/// Prints (or writes) the JSON Schema of a rule file.
pub(crate) fn schema(out: Option<&Path>) -> CmdResult {
    let text = schema_text();
    match out {
        Some(path) => std::fs::write(path, &text).map_err(|error| CliError::Io {
            path: path.to_owned(),
            error,
        })?,
        None => write_out(format_args!("{text}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// `router openapi`: the management API's OpenAPI document.
pub(crate) fn openapi(out: Option<&Path>) -> CmdResult {
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&edge_router::api::openapi::document())
            .map_err(|e| CliError::Usage(format!("cannot render the document: {e}")))?
    );
    match out {
        Some(path) => std::fs::write(path, &text).map_err(|error| CliError::Io {
            path: path.to_owned(),
            error,
        })?,
        None => write_out(format_args!("{text}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// The schema as committed in `rules/schema.json`: two-space indents, a final newline.
pub(crate) fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&rule_file_schema()).unwrap_or_default();
    text.push('\n');
    text
}
