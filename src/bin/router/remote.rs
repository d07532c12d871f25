//! Talking to a running worker's management API: the options every such command takes
//! (`--api`, `--token`/`--token-file`/`ROUTER_TOKEN`, `--handle`, `--timeout`) and one
//! request with its answer, the API's error envelope turned into [`CliError::Api`].

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::common::CliError;
use crate::push::check_api_url;

/// Where the API is and who calls it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RemoteArgs {
    /// Base URL of the worker, e.g. http://127.0.0.1:8787 (https, or plain http to this
    /// machine only).
    #[arg(long)]
    pub(crate) api: String,
    /// API token (PAT or JWT) for the handle.
    #[arg(long, env = "ROUTER_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Read the API token from this file (e.g. .dev/pat-gharart).
    #[arg(long, conflicts_with = "token")]
    pub(crate) token_file: Option<PathBuf>,
    /// The handle.
    #[arg(long, env = "ROUTER_HANDLE", default_value = "gharart")]
    pub(crate) handle: String,
    /// Seconds to wait for the API.
    #[arg(long, default_value_t = 30)]
    pub(crate) timeout: u64,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The JSON body.
    pub(crate) body: Value,
    /// `X-Request-Id`.
    pub(crate) request_id: Option<String>,
    /// `Idempotent-Replayed: true`.
    pub(crate) replayed: bool,
}

impl RemoteArgs {
    /// The base URL without a trailing slash, checked.
    fn base(&self) -> Result<String, CliError> {
        let base = self.api.trim().trim_end_matches('/').to_owned();
        check_api_url(&self.api, &base)?;
        Ok(base)
    }

    /// The bearer token: `--token` (or `ROUTER_TOKEN`), else the first line of
    /// `--token-file`.
    fn bearer(&self) -> Result<String, CliError> {
        if let Some(token) = &self.token {
            return Ok(token.trim().to_owned());
        }
        let Some(path) = &self.token_file else {
            return Err(CliError::Usage(
                "--api needs a token: --token, ROUTER_TOKEN, or --token-file (e.g. \
                 .dev/pat-gharart, written by `make dev`)"
                    .into(),
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|error| CliError::Io {
            path: path.clone(),
            error,
        })?;
        Ok(text.lines().next().unwrap_or_default().trim().to_owned())
    }

    /// Sends `method` to `path` (from `/v2`) with an optional JSON body and
    /// Idempotency-Key.
    ///
    /// # Errors
    /// [`CliError::Usage`] for a bad URL or no token, [`CliError::Unreachable`] when the
    /// worker cannot be reached or does not answer JSON, [`CliError::Api`] for its
    /// error envelope.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        key: Option<&str>,
    ) -> Result<Answer, CliError> {
        let base = self.base()?;
        let token = self.bearer()?;
        let url = format!("{base}{path}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(self.timeout.max(1))))
            .user_agent(concat!("router/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let authorization = format!("Bearer {token}");
        let sent = match method {
            "GET" => agent
                .get(&url)
                .header("Authorization", &authorization)
                .call(),
            _ => {
                let mut request = agent
                    .post(&url)
                    .header("Authorization", &authorization)
                    .content_type("application/json");
                if let Some(key) = key {
                    request = request.header("Idempotency-Key", key);
                }
                match body {
                    Some(body) => request.send(body),
                    None => request.send_empty(),
                }
            }
        };
        let mut response = sent.map_err(|e| {
            let retry = key
                .map(|k| format!(" To retry safely, pass --idempotency-key {k}."))
                .unwrap_or_default();
            CliError::Unreachable(format!(
                "cannot reach {url}: {e}. Is the worker running (`make dev` serves \
                 http://127.0.0.1:8787)?{retry}"
            ))
        })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("X-Request-Id");
        let replayed = header("Idempotent-Replayed").is_some_and(|v| v == "true");
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let json: Option<Value> = serde_json::from_str(&text).ok();
        match json {
            Some(body) if (200..300).contains(&status) => Ok(Answer {
                body,
                request_id,
                replayed,
            }),
            Some(Value::Object(mut body)) if body.get("error").is_some_and(Value::is_object) => {
                let error = body.remove("error").unwrap_or_default();
                let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
                Err(CliError::Api {
                    status,
                    code: text("code").unwrap_or_else(|| "unknown".into()),
                    message: text("message").unwrap_or_default(),
                    request_id: text("request_id").or(request_id),
                    details: error.get("details").filter(|d| !d.is_null()).cloned(),
                })
            }
            _ => {
                let snippet: String = text.chars().take(200).collect();
                Err(CliError::Unreachable(format!(
                    "{url} answered {status} with something that is not the API's JSON: \
                     {snippet:?}"
                )))
            }
        }
    }
}

/// A fresh random Idempotency-Key with a prefix naming the command.
pub(crate) fn new_key(prefix: &str) -> Result<String, CliError> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).map_err(|e| CliError::Tool(format!("no randomness: {e}")))?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}-{hex}"))
}
