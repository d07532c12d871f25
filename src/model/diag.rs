//! Validation diagnostics: every problem found in a configuration, with a stable code, the
//! JSON path it belongs to and the rule (or other document) id.

use std::fmt;

use serde::Serialize;

/// How bad a problem is.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The configuration cannot be compiled or published.
    Error,
    /// Accepted, but probably not what was meant (e.g. an unroutable destination).
    Warning,
}

/// One problem.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `invalid_country`.
    pub code: &'static str,
    /// JSON path from the document root, e.g. `rules[3].conditions.country.in[0]`.
    pub path: String,
    /// The id of the rule (or campaign, template, domain, entry) it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}[{}] {}", self.code, self.path)?;
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A collector of diagnostics with the id of the document being checked.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    id: Option<String>,
}

impl Diagnostics {
    /// Sets the id attached to the diagnostics that follow (`None` for handle-level ones).
    pub fn set_id(&mut self, id: Option<&str>) {
        self.id = id.map(str::to_owned);
    }

    /// Records an error.
    pub fn error(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, code, path.into(), message.into());
    }

    /// Records a warning.
    pub fn warning(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, code, path.into(), message.into());
    }

    fn push(&mut self, severity: Severity, code: &'static str, path: String, message: String) {
        self.list.push(Diagnostic {
            severity,
            code,
            path,
            id: self.id.clone(),
            message,
        });
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    /// Whether an error was recorded at `path`.
    pub fn has_error_at(&self, path: &str) -> bool {
        self.list
            .iter()
            .any(|d| d.severity == Severity::Error && d.path == path)
    }

    /// All diagnostics, errors first, each group in the order found.
    pub fn into_vec(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|d| d.severity);
        self.list
    }
}

/// A configuration that could not be compiled: every diagnostic, errors first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Errors, then warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl CompileError {
    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors().count();
        write!(f, "{count} error(s) in the configuration")?;
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}
