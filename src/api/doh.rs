//! DNS-over-HTTPS, JSON API (`application/dns-json`, as served by Cloudflare and Google):
//! the query URL for a TXT lookup and the parsing of the answer. The fetch itself is the
//! edge's.

use serde::Deserialize;

/// The default resolver.
pub const DEFAULT_RESOLVER: &str = "https://cloudflare-dns.com/dns-query";

/// Why an answer could not be used. Each means "the resolver is unavailable", never
/// "the record is absent": verification state is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DohError {
    /// Not JSON of the DoH shape.
    Garbage,
    /// A DNS error other than NXDOMAIN (SERVFAIL, REFUSED, ...).
    Rcode(u32),
}

impl std::fmt::Display for DohError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Garbage => {
                f.write_str("the resolver answered something that is not a DNS JSON answer")
            }
            Self::Rcode(code) => write!(f, "the resolver answered DNS status {code}"),
        }
    }
}

impl std::error::Error for DohError {}

/// Whether a resolver URL may be used: https (a lookup that decides trust must not travel
/// in clear text), or plain http to a loopback address (the tests' local resolver; the
/// production guard of `make deploy` refuses that).
pub fn acceptable_resolver(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match (parsed.scheme(), parsed.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Domain(d))) => d == "localhost",
        _ => false,
    }
}

/// The lookup URL for the TXT records of `name`.
pub fn query_url(resolver: &str, name: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .append_pair("type", "TXT")
        .finish();
    let separator = if resolver.contains('?') { '&' } else { '?' };
    format!("{resolver}{separator}{query}")
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(rename = "Status")]
    status: u32,
    #[serde(rename = "Answer", default)]
    answer: Vec<Record>,
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "type")]
    kind: u16,
    data: String,
}

/// The TXT strings of an answer (quotes removed, split strings joined). NXDOMAIN and an
/// empty answer are no records.
///
/// # Errors
/// [`DohError`] for garbage or a DNS failure.
pub fn parse_txt(body: &[u8]) -> Result<Vec<String>, DohError> {
    let answer: Answer = serde_json::from_slice(body).map_err(|_| DohError::Garbage)?;
    match answer.status {
        0 => {}
        3 => return Ok(Vec::new()),
        other => return Err(DohError::Rcode(other)),
    }
    Ok(answer
        .answer
        .into_iter()
        .filter(|r| r.kind == 16)
        .map(|r| join_txt(&r.data))
        .collect())
}

/// `"abc" "def"` → `abcdef`; an unquoted value is taken as is.
fn join_txt(data: &str) -> String {
    let data = data.trim();
    if !data.starts_with('"') {
        return data.to_owned();
    }
    data.split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_are_https_or_loopback() {
        for ok in [
            "https://cloudflare-dns.com/dns-query",
            "http://127.0.0.1:8053/dns-query",
            "http://[::1]:53/q",
            "http://localhost:9/q",
        ] {
            assert!(acceptable_resolver(ok), "{ok}");
        }
        for bad in [
            "http://dns.example/dns-query",
            "http://10.0.0.1/q",
            "ftp://x",
            "not a url",
            "http://127.0.0.1.evil.example/q",
        ] {
            assert!(!acceptable_resolver(bad), "{bad}");
        }
    }

    #[test]
    fn parses_answers() {
        let ok = br#"{"Status":0,"Answer":[{"name":"_gharart-verify.shop.example.","type":16,"TTL":300,"data":"\"gharart-verify=abc\""},{"name":"x","type":5,"data":"cname."},{"type":16,"data":"\"part1\" \"part2\""}]}"#;
        assert_eq!(
            parse_txt(ok).unwrap(),
            vec!["gharart-verify=abc".to_owned(), "part1part2".to_owned()]
        );
        assert_eq!(parse_txt(br#"{"Status":3}"#).unwrap(), Vec::<String>::new());
        assert_eq!(parse_txt(br#"{"Status":0}"#).unwrap(), Vec::<String>::new());
        assert_eq!(parse_txt(br#"{"Status":2}"#), Err(DohError::Rcode(2)));
        assert_eq!(parse_txt(b"<html>oops</html>"), Err(DohError::Garbage));
        assert_eq!(parse_txt(br#"{"Answer":"nope"}"#), Err(DohError::Garbage));
    }

    #[test]
    fn query_urls() {
        assert_eq!(
            query_url("https://dns.example/dns-query", "_gharart-verify.a.b"),
            "https://dns.example/dns-query?name=_gharart-verify.a.b&type=TXT"
        );
        assert_eq!(
            query_url("http://127.0.0.1:9/q?ct=1", "x.y"),
            "http://127.0.0.1:9/q?ct=1&name=x.y&type=TXT"
        );
    }
}
