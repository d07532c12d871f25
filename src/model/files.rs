//! Rule files on disk (native only): a directory per handle, e.g. `rules/gharart/`, whose
//! `*.json` files each hold any part of a [`HandleConfig`] (and an optional `$schema`).
//! They are merged in file-name order; `handle` must agree wherever it is given and each
//! handle-level setting may be given once. Diagnostics are mapped back to the file and
//! the path inside it. [`rule_file_schema`] is the JSON Schema of one such file.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::config::{
    CampaignDoc, DomainDoc, EntryDoc, HandleConfig, RuleDoc, TemplateDoc, DEFAULT_RISK_THRESHOLD,
};
use crate::model::diag::{Diagnostic, Severity};

mod schema;
pub use schema::rule_file_schema;

/// One rule file of the edge personalization router.
///
/// A handle's directory under `rules/` holds any number of these; they are merged in
/// file-name order. Each may hold any part of the handle's configuration: `handle` must
/// agree wherever it is given, `fallback`, `risk_threshold` and `default_template` may be
/// given in one file only, and the lists are concatenated. `router validate <dir>` checks
/// the meaning (ids, references, country codes, routability) beyond this schema.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Rule file")]
struct RuleFile {
    /// The JSON Schema this file follows, for editors (e.g. `../schema.json`); ignored by
    /// the router.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    /// The tenant, e.g. `gharart`: 1 to 63 lower-case letters, digits or `-`. At least one
    /// file of the directory names it.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    handle: Option<String>,
    /// The handle's fallback page (an https URL): used when an entry's default is not
    /// routable.
    #[serde(default)]
    fallback: Option<String>,
    /// Risk scores strictly below this count as approved when a domain has no manual
    /// decision (0 to 100, default 30).
    #[serde(default)]
    #[schemars(range(max = 100))]
    risk_threshold: Option<u8>,
    /// Tracking template used when neither campaign, rule nor entry names one.
    #[serde(default)]
    default_template: Option<String>,
    /// Entry points visitors hit, `/{handle}/{slug}`.
    #[serde(default)]
    entries: Vec<EntryDoc>,
    /// Personalization rules, evaluated per entry by (priority, id).
    #[serde(default)]
    rules: Vec<RuleDoc>,
    /// Destination domains and their trust: only verified and approved ones are routable.
    #[serde(default)]
    domains: Vec<DomainDoc>,
    /// Tracking templates.
    #[serde(default)]
    templates: Vec<TemplateDoc>,
    /// A/B campaigns.
    #[serde(default)]
    campaigns: Vec<CampaignDoc>,
}

/// A diagnostic located in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileDiagnostic {
    /// The file.
    pub file: PathBuf,
    /// The diagnostic, with its path inside that file.
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
    /// The line (1-based) of the problem in the file, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The column (1-based) of the problem in the file, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl std::fmt::Display for FileDiagnostic {
    /// `file:line:column: error[code] path (id): message`, the form editors jump to; the
    /// line and column only where known.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        let d = &self.diagnostic;
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {level}[{}]", d.code)?;
        if !d.path.is_empty() {
            write!(f, " {}", d.path)?;
        }
        if let Some(id) = &d.id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}", d.message)
    }
}

/// Where each merged list element came from.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    files: Vec<PathBuf>,
    /// `(list name, merged index) -> (file index, index in file)`.
    lists: Vec<(&'static str, Vec<(usize, usize)>)>,
    /// The file that set the handle.
    settings: Option<usize>,
    /// `(setting name, file index)` of each other handle-level setting that was given.
    setting_files: Vec<(&'static str, usize)>,
}

impl Origins {
    /// Locates a merged-config diagnostic in its file.
    pub fn locate(&self, diagnostic: &Diagnostic) -> FileDiagnostic {
        let mut located = diagnostic.clone();
        let setting = self.setting_files.iter().find(|(name, _)| {
            diagnostic
                .path
                .strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        });
        let file_index = setting.map(|(_, i)| *i).or(self.settings);
        let mut file = file_index
            .and_then(|i| self.files.get(i))
            .cloned()
            .unwrap_or_default();
        for (name, origins) in &self.lists {
            let Some(rest) = diagnostic
                .path
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('['))
            else {
                continue;
            };
            let Some((index, tail)) = rest.split_once(']') else {
                continue;
            };
            let Some(&(f, local)) = index.parse::<usize>().ok().and_then(|i| origins.get(i)) else {
                continue;
            };
            // `merge` records an origin only with its file; were that ever not so, no file
            // is named rather than the wrong one, and the merged path is kept.
            match self.files.get(f) {
                Some(origin) => {
                    file = origin.clone();
                    located.path = format!("{name}[{local}]{tail}");
                }
                None => file = PathBuf::new(),
            }
        }
        FileDiagnostic {
            file,
            diagnostic: located,
            line: None,
            column: None,
        }
    }
}

fn problem(file: &Path, code: &'static str, path: &str, message: String) -> FileDiagnostic {
    FileDiagnostic {
        file: file.to_owned(),
        diagnostic: Diagnostic {
            severity: Severity::Error,
            code,
            path: path.to_owned(),
            id: None,
            message,
        },
        line: None,
        column: None,
    }
}

/// Parses one rule file. A syntax error is `invalid_json`; JSON of the wrong shape is
/// `unknown_field`, `missing_field` or `invalid_value`, at the JSON path of the offending
/// value and with the id of the list element it lies in. Both carry the line and column
/// (in the diagnostic's fields, not in its message).
fn parse_file(path: &Path, bytes: &[u8]) -> Result<RuleFile, Box<FileDiagnostic>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let (mut json_path, inner) = match serde_path_to_error::deserialize::<_, RuleFile>(&mut de) {
        Ok(file) => match de.end() {
            Ok(()) => return Ok(file),
            Err(e) => (String::new(), e),
        },
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    let (line, column) = (inner.line(), inner.column());
    let mut message = inner.to_string();
    let at = format!(" at line {line} column {column}");
    if let Some(stripped) = message.strip_suffix(&at) {
        message = stripped.to_owned();
    }
    if json_path == "." || inner.is_syntax() || inner.is_eof() {
        json_path = String::new();
    }
    let code = if inner.is_syntax() || inner.is_eof() {
        "invalid_json"
    } else if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("missing field") {
        "missing_field"
    } else {
        "invalid_value"
    };
    let mut found = problem(path, code, &json_path, message);
    found.diagnostic.id = element_id(bytes, &json_path);
    found.line = Some(line).filter(|l| *l > 0);
    found.column = Some(column).filter(|_| line > 0);
    Err(Box::new(found))
}

/// The id of the list element a JSON path lies in (`rules[2].conditions` -> that rule's
/// `id`; entries have a `slug`, domains a `domain`), read leniently from the raw JSON.
fn element_id(bytes: &[u8], json_path: &str) -> Option<String> {
    let (list, rest) = json_path.split_once('[')?;
    let index: usize = rest.split_once(']')?.0.parse().ok()?;
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let element = value.get(list)?.get(index)?;
    ["id", "slug", "domain"]
        .iter()
        .find_map(|key| element.get(*key)?.as_str())
        .map(str::to_owned)
}

/// Reads and merges every `*.json` file of a handle directory.
///
/// # Errors
/// Every file that cannot be read or parsed, and every conflict between files.
pub fn load_dir(dir: &Path) -> Result<(HandleConfig, Origins), Vec<FileDiagnostic>> {
    let mut paths: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(read) => read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            return Err(vec![problem(
                dir,
                "unreadable",
                "",
                format!("cannot read the directory: {e}"),
            )])
        }
    };
    paths.sort();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in &paths {
        let parsed = match fs::read(path) {
            Ok(bytes) => parse_file(path, &bytes).map_err(|found| *found),
            Err(e) => Err(problem(path, "unreadable", "", format!("cannot read: {e}"))),
        };
        match parsed {
            Ok(file) => files.push((path.clone(), file)),
            Err(p) => problems.push(p),
        }
    }
    if files.is_empty() && problems.is_empty() {
        problems.push(problem(
            dir,
            "no_rule_files",
            "",
            "no *.json rule files in this directory".into(),
        ));
    }
    let merged = merge(files, &mut problems);
    if problems.is_empty() {
        Ok(merged)
    } else {
        Err(problems)
    }
}

fn merge(
    files: Vec<(PathBuf, RuleFile)>,
    problems: &mut Vec<FileDiagnostic>,
) -> (HandleConfig, Origins) {
    let mut config = HandleConfig {
        risk_threshold: DEFAULT_RISK_THRESHOLD,
        ..Default::default()
    };
    let mut origins = Origins::default();
    let mut handle_file: Option<usize> = None;
    let set_once = |name: &str,
                    fi: usize,
                    path: &Path,
                    set: &mut Option<usize>,
                    problems: &mut Vec<FileDiagnostic>| {
        if set.is_some() {
            problems.push(problem(
                path,
                "duplicate_setting",
                name,
                format!("{name} is already set in another rule file"),
            ));
        }
        *set = Some(fi);
    };
    let (mut fallback_file, mut threshold_file, mut template_file) = (None, None, None);
    let mut lists: [(&'static str, Vec<(usize, usize)>); 5] = [
        ("entries", vec![]),
        ("rules", vec![]),
        ("domains", vec![]),
        ("templates", vec![]),
        ("campaigns", vec![]),
    ];
    for (fi, (path, file)) in files.into_iter().enumerate() {
        if let Some(handle) = file.handle {
            match handle_file {
                Some(_) if handle != config.handle => problems.push(problem(
                    &path,
                    "conflicting_handle",
                    "handle",
                    format!(
                        "handle {handle:?} differs from {:?} in another rule file",
                        config.handle
                    ),
                )),
                _ => {
                    config.handle = handle;
                    handle_file = Some(fi);
                }
            }
        }
        if let Some(v) = file.fallback {
            set_once("fallback", fi, &path, &mut fallback_file, problems);
            config.fallback = Some(v);
        }
        if let Some(v) = file.risk_threshold {
            set_once("risk_threshold", fi, &path, &mut threshold_file, problems);
            config.risk_threshold = v;
        }
        if let Some(v) = file.default_template {
            set_once("default_template", fi, &path, &mut template_file, problems);
            config.default_template = Some(v);
        }
        let counts = [
            file.entries.len(),
            file.rules.len(),
            file.domains.len(),
            file.templates.len(),
            file.campaigns.len(),
        ];
        for ((_, origin), count) in lists.iter_mut().zip(counts) {
            origin.extend((0..count).map(|local| (fi, local)));
        }
        config.entries.extend(file.entries);
        config.rules.extend(file.rules);
        config.domains.extend(file.domains);
        config.templates.extend(file.templates);
        config.campaigns.extend(file.campaigns);
        origins.files.push(path);
    }
    if handle_file.is_none() {
        let first = origins.files.first().cloned().unwrap_or_default();
        problems.push(problem(
            &first,
            "missing_handle",
            "handle",
            "no rule file names the handle".into(),
        ));
    }
    origins.settings = handle_file;
    let given = [
        ("fallback", fallback_file),
        ("risk_threshold", threshold_file),
        ("default_template", template_file),
    ];
    origins.setting_files = given
        .into_iter()
        .filter_map(|(name, file)| Some((name, file?)))
        .collect();
    origins.lists = lists.into_iter().collect();
    (config, origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: every handle-level diagnostic was located in the file that set the
    /// handle, even when another file set the offending setting.
    #[test]
    fn settings_are_located_in_the_file_that_set_them() -> Result<(), serde_json::Error> {
        let files = vec![
            (
                PathBuf::from("handle.json"),
                serde_json::from_str(r#"{"handle": "shop", "fallback": "https://x.example/"}"#)?,
            ),
            (
                PathBuf::from("templates.json"),
                serde_json::from_str(r#"{"default_template": "nope", "risk_threshold": 20}"#)?,
            ),
        ];
        let mut problems = Vec::new();
        let (_, origins) = merge(files, &mut problems);
        assert!(problems.is_empty());
        let at = |path: &str| {
            let d = Diagnostic {
                severity: Severity::Error,
                code: "x",
                path: path.into(),
                id: None,
                message: String::new(),
            };
            origins.locate(&d).file
        };
        assert_eq!(at("default_template"), PathBuf::from("templates.json"));
        assert_eq!(at("risk_threshold"), PathBuf::from("templates.json"));
        assert_eq!(at("fallback"), PathBuf::from("handle.json"));
        assert_eq!(at("handle"), PathBuf::from("handle.json"));
        Ok(())
    }
}
