//! The DNS-over-HTTPS [`Resolver`]: a `fetch` of the configured resolver's JSON API.

use worker::{Fetch, Headers, Method, Request, RequestInit};

use crate::api::doh;
use crate::api::store::{Resolver, ResolverError};

/// The configured resolver.
pub(crate) struct DohResolver<'a> {
    pub(crate) url: &'a str,
}

/// Largest answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

impl Resolver for DohResolver<'_> {
    async fn txt(&self, name: &str) -> Result<Vec<String>, ResolverError> {
        let failed = |e: String| ResolverError(e);
        let headers = Headers::new();
        headers
            .set("Accept", "application/dns-json")
            .map_err(|e| failed(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let request = Request::new_with_init(&doh::query_url(self.url, name), &init)
            .map_err(|e| failed(e.to_string()))?;
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if response.status_code() != 200 {
            return Err(failed(format!("HTTP {}", response.status_code())));
        }
        let bytes = response.bytes().await.map_err(|e| failed(e.to_string()))?;
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(failed("answer too large".into()));
        }
        doh::parse_txt(&bytes).map_err(|e| failed(e.to_string()))
    }
}
