//! The destination allowlist: which hosts a visitor may be sent to.
//!
//! A host is **routable** when the most specific domain entry that covers it (an exact
//! entry beats a `*.domain` wildcard, a longer wildcard beats a shorter one) is verified
//! AND approved. Approved means a manual `approved` decision, or, with no manual decision,
//! a risk score strictly below the handle's threshold. A manual decision always overrides
//! the score; a domain with neither is not approved. Only `https` URLs with a domain host,
//! no user info and the default port are ever routable.

// foldhash, not std's SipHash: these maps are read on every visit (hashing shows in wasm).
use foldhash::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::config::{DecisionValue, DomainDoc, Verification};

/// Why a URL or host may not be routed to.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NotRoutable {
    /// The URL's scheme is not https.
    NotHttps,
    /// The URL carries a user name or password.
    HasUserInfo,
    /// The URL names a port.
    HasPort,
    /// The host is an IP address or missing.
    NotADomain,
    /// No domain entry covers the host.
    UnknownDomain {
        /// The host.
        host: String,
    },
    /// The covering entry is not verified.
    Unverified {
        /// The entry that covers the host.
        domain: String,
        /// Its verification state.
        verification: Verification,
    },
    /// The covering entry was rejected by a person.
    Rejected {
        /// The entry that covers the host.
        domain: String,
    },
    /// The covering entry's risk score is at or over the threshold and nobody approved it.
    RiskTooHigh {
        /// The entry that covers the host.
        domain: String,
        /// Its risk score.
        score: u8,
        /// The handle's threshold.
        threshold: u8,
    },
    /// The covering entry has neither a risk score nor a decision.
    Unscored {
        /// The entry that covers the host.
        domain: String,
    },
}

impl fmt::Display for NotRoutable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHttps => f.write_str("only https destinations are routable"),
            Self::HasUserInfo => f.write_str("destinations may not carry a user name or password"),
            Self::HasPort => f.write_str("destinations may not name a port"),
            Self::NotADomain => f.write_str("the destination host is not a domain name"),
            Self::UnknownDomain { host } => write!(f, "{host} is not on the destination allowlist"),
            Self::Unverified {
                domain,
                verification,
            } => {
                write!(
                    f,
                    "{domain} is not verified (verification {})",
                    verification_name(*verification)
                )
            }
            Self::Rejected { domain } => write!(f, "{domain} was rejected by a manual decision"),
            Self::RiskTooHigh {
                domain,
                score,
                threshold,
            } => {
                write!(f, "{domain} has risk score {score}, at or over the threshold {threshold}, and no approval")
            }
            Self::Unscored { domain } => {
                write!(f, "{domain} has no risk score and no manual decision")
            }
        }
    }
}

fn verification_name(v: Verification) -> &'static str {
    match v {
        Verification::Pending => "pending",
        Verification::Verified => "verified",
        Verification::Failed => "failed",
    }
}

/// Decides routability of one domain entry on its own.
pub fn entry_routability(doc: &DomainDoc, threshold: u8) -> Result<(), NotRoutable> {
    let domain = doc.domain.clone();
    if doc.verification != Verification::Verified {
        return Err(NotRoutable::Unverified {
            domain,
            verification: doc.verification,
        });
    }
    match (doc.decision.as_ref().map(|d| d.value), doc.risk_score) {
        (Some(DecisionValue::Approved), _) => Ok(()),
        (Some(DecisionValue::Rejected), _) => Err(NotRoutable::Rejected { domain }),
        (None, Some(score)) if score < threshold => Ok(()),
        (None, Some(score)) => Err(NotRoutable::RiskTooHigh {
            domain,
            score,
            threshold,
        }),
        (None, None) => Err(NotRoutable::Unscored { domain }),
    }
}

/// The compiled allowlist of one handle.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(into = "AllowlistForm", from = "AllowlistForm")]
pub struct Allowlist {
    exact: HashMap<String, Result<(), NotRoutable>>,
    /// `(suffix with leading dot, verdict)`, longest suffix first.
    wildcards: Vec<(String, Result<(), NotRoutable>)>,
}

/// The allowlist in a snapshot's edge form (`engine::snapshot`): its verdicts in a shape
/// a compact binary format reads back ([`NotRoutable`]'s JSON form is internally tagged,
/// which only self-describing formats decode).
#[derive(Serialize, Deserialize)]
struct AllowlistForm {
    exact: Vec<(String, Verdict)>,
    wildcards: Vec<(String, Verdict)>,
}

#[derive(Serialize, Deserialize)]
enum Verdict {
    Routable,
    NotHttps,
    HasUserInfo,
    HasPort,
    NotADomain,
    UnknownDomain(String),
    Unverified(String, Verification),
    Rejected(String),
    RiskTooHigh(String, u8, u8),
    Unscored(String),
}

impl From<Result<(), NotRoutable>> for Verdict {
    fn from(verdict: Result<(), NotRoutable>) -> Self {
        match verdict {
            Ok(()) => Verdict::Routable,
            Err(NotRoutable::NotHttps) => Verdict::NotHttps,
            Err(NotRoutable::HasUserInfo) => Verdict::HasUserInfo,
            Err(NotRoutable::HasPort) => Verdict::HasPort,
            Err(NotRoutable::NotADomain) => Verdict::NotADomain,
            Err(NotRoutable::UnknownDomain { host }) => Verdict::UnknownDomain(host),
            Err(NotRoutable::Unverified {
                domain,
                verification,
            }) => Verdict::Unverified(domain, verification),
            Err(NotRoutable::Rejected { domain }) => Verdict::Rejected(domain),
            Err(NotRoutable::RiskTooHigh {
                domain,
                score,
                threshold,
            }) => Verdict::RiskTooHigh(domain, score, threshold),
            Err(NotRoutable::Unscored { domain }) => Verdict::Unscored(domain),
        }
    }
}

impl From<Verdict> for Result<(), NotRoutable> {
    fn from(verdict: Verdict) -> Self {
        Err(match verdict {
            Verdict::Routable => return Ok(()),
            Verdict::NotHttps => NotRoutable::NotHttps,
            Verdict::HasUserInfo => NotRoutable::HasUserInfo,
            Verdict::HasPort => NotRoutable::HasPort,
            Verdict::NotADomain => NotRoutable::NotADomain,
            Verdict::UnknownDomain(host) => NotRoutable::UnknownDomain { host },
            Verdict::Unverified(domain, verification) => NotRoutable::Unverified {
                domain,
                verification,
            },
            Verdict::Rejected(domain) => NotRoutable::Rejected { domain },
            Verdict::RiskTooHigh(domain, score, threshold) => NotRoutable::RiskTooHigh {
                domain,
                score,
                threshold,
            },
            Verdict::Unscored(domain) => NotRoutable::Unscored { domain },
        })
    }
}

impl From<Allowlist> for AllowlistForm {
    fn from(allowlist: Allowlist) -> Self {
        let form = |entries: Vec<(String, Result<(), NotRoutable>)>| {
            entries.into_iter().map(|(d, v)| (d, v.into())).collect()
        };
        AllowlistForm {
            exact: form(allowlist.exact.into_iter().collect()),
            wildcards: form(allowlist.wildcards),
        }
    }
}

impl From<AllowlistForm> for Allowlist {
    fn from(form: AllowlistForm) -> Self {
        // Kept in the order they were written: the wildcards longest suffix first.
        Allowlist {
            exact: form.exact.into_iter().map(|(d, v)| (d, v.into())).collect(),
            wildcards: form
                .wildcards
                .into_iter()
                .map(|(d, v)| (d, v.into()))
                .collect(),
        }
    }
}

impl Allowlist {
    /// Builds the allowlist from (already normalised) domain entries.
    pub fn new<'a>(domains: impl IntoIterator<Item = &'a DomainDoc>, threshold: u8) -> Self {
        let mut allowlist = Allowlist::default();
        for doc in domains {
            let verdict = entry_routability(doc, threshold);
            match doc.domain.strip_prefix('*') {
                Some(suffix) => allowlist.wildcards.push((suffix.to_owned(), verdict)),
                None => {
                    allowlist.exact.insert(doc.domain.clone(), verdict);
                }
            }
        }
        allowlist
            .wildcards
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        allowlist
    }

    /// Whether a host (lower-case ASCII) is routable.
    ///
    /// # Errors
    /// [`NotRoutable`] saying which entry refused it, or that none covers it.
    pub fn check_host(&self, host: &str) -> Result<(), NotRoutable> {
        if let Some(verdict) = self.exact.get(host) {
            return verdict.clone();
        }
        self.wildcards
            .iter()
            .find(|(suffix, _)| host.len() > suffix.len() && host.ends_with(suffix.as_str()))
            .map(|(_, verdict)| verdict.clone())
            .unwrap_or_else(|| {
                Err(NotRoutable::UnknownDomain {
                    host: host.to_owned(),
                })
            })
    }

    /// Whether a URL may be redirected to.
    ///
    /// # Errors
    /// [`NotRoutable`] for a non-https URL, user info, a port, an IP host, or a host the
    /// allowlist does not approve.
    pub fn check_url(&self, url: &Url) -> Result<(), NotRoutable> {
        let host = url_domain(url)?;
        self.check_host(host)
    }
}

/// The domain of a URL that has the form every destination needs (https, no user info,
/// no port, a domain host).
///
/// # Errors
/// [`NotRoutable`] naming the first problem.
pub fn url_domain(url: &Url) -> Result<&str, NotRoutable> {
    if url.scheme() != "https" {
        return Err(NotRoutable::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(NotRoutable::HasUserInfo);
    }
    if url.port().is_some() {
        return Err(NotRoutable::HasPort);
    }
    match url.host() {
        // The URL parser accepts hosts no DNS name has (`..x.in`, `a"b.x.in`, labels over
        // 63 bytes): the same label rules as for listed domains apply.
        Some(url::Host::Domain(domain)) if check_labels(domain).is_ok() => Ok(domain),
        _ => Err(NotRoutable::NotADomain),
    }
}

/// Why a domain name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainNameError {
    /// Empty after trimming.
    Empty,
    /// It carries a port, path, query, fragment or user info.
    NotJustAHost,
    /// IDNA processing refused it, or it is an IP address.
    Invalid,
    /// A label is empty, too long, or has characters a host name cannot have.
    BadLabel,
    /// A single label (no dot), or an all-numeric top-level label.
    NotPublic,
    /// `*` anywhere but as the whole first label.
    BadWildcard,
}

impl fmt::Display for DomainNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "domain is empty",
            Self::NotJustAHost => "give a bare host name: no port, path, query or user info",
            Self::Invalid => "not a valid domain name (IDNA or IP address)",
            Self::BadLabel => {
                "a label is empty, longer than 63 characters, or has invalid characters"
            }
            Self::NotPublic => "a domain needs at least two labels and a non-numeric top level",
            Self::BadWildcard => "a wildcard must be the whole first label, as in *.example.com",
        })
    }
}

impl std::error::Error for DomainNameError {}

/// Normalises a domain as the API and rule files accept it: trimmed, a leading `https://`
/// or `http://` and one trailing `/` removed, IDNA to ASCII, lower-case; `*.` allowed as
/// the first label.
///
/// # Errors
/// [`DomainNameError`] for anything that is not a plain (wildcard) host name.
pub fn normalise_domain(raw: &str) -> Result<String, DomainNameError> {
    let mut name = raw.trim();
    for scheme in ["https://", "http://"] {
        if name
            .get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
        {
            name = &name[scheme.len()..];
        }
    }
    name = name.strip_suffix('/').unwrap_or(name);
    if name.is_empty() {
        return Err(DomainNameError::Empty);
    }
    if name.chars().any(|c| {
        matches!(c, '/' | '\\' | ':' | '@' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
    }) {
        return Err(DomainNameError::NotJustAHost);
    }
    let (wildcard, host) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    if host.contains('*') {
        return Err(DomainNameError::BadWildcard);
    }
    let ascii = match plain(host) {
        Some(plain) => plain.to_owned(),
        None => host_to_ascii(host)?,
    };
    Ok(if wildcard {
        format!("*.{ascii}")
    } else {
        ascii
    })
}

/// The ASCII form of a host name through the URL standard's host parser (IDNA and all),
/// its labels checked.
fn host_to_ascii(host: &str) -> Result<String, DomainNameError> {
    let ascii = match url::Host::parse(host) {
        Ok(url::Host::Domain(d)) => d,
        _ => return Err(DomainNameError::Invalid),
    };
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_owned();
    check_labels(&ascii)?;
    Ok(ascii)
}

/// A host name already in the form [`host_to_ascii`] gives, told without the host parser:
/// lower-case letters, digits and '-' in valid labels, none an IDNA (`xn--`) label, the
/// last one starting with a letter (so not a number the parser would read as IPv4).
/// Domains are stored normalised, so compiling a snapshot's 500 domains takes this path
/// (the host parser cost its first visit about 1.6 ms of cold wasm).
fn plain(host: &str) -> Option<&str> {
    let last = host.rsplit('.').next()?;
    let ok = check_labels(host).is_ok()
        && last.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && !host.split('.').any(|label| label.starts_with("xn--"));
    ok.then_some(host)
}

fn check_labels(host: &str) -> Result<(), DomainNameError> {
    if host.len() > 253 {
        return Err(DomainNameError::BadLabel);
    }
    // One pass, no vector of labels: every visit checks its location's host.
    let (mut count, mut last) = (0usize, "");
    for label in host.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(DomainNameError::BadLabel);
        }
        count += 1;
        last = label;
    }
    let top_numeric = last.bytes().all(|b| b.is_ascii_digit());
    if count < 2 || top_numeric {
        return Err(DomainNameError::NotPublic);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::DomainDecision;

    /// The shortcut past the host parser only ever gives what the parser gives.
    #[test]
    fn plain_names_normalise_as_the_host_parser_does() {
        for host in ["gharart.com", "m.gharart.in", "a-b.c9.example", "x.co"] {
            assert_eq!(plain(host), Some(host));
            assert_eq!(host_to_ascii(host).as_deref(), Ok(host));
        }
        // Left to the parser: IDNA labels, numbers, upper case, trailing dots, bad labels.
        for host in [
            "xn--bcher-kva.example",
            "a.xn--p1ai",
            "example.0x10",
            "1.2.3.4",
            "Gharart.com",
            "gharart.com.",
            "a..b",
            "-a.com",
            "com",
        ] {
            assert_eq!(plain(host), None, "{host}");
        }
        assert_eq!(normalise_domain("a.b9"), host_to_ascii("a.b9"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, failure_persistence: None, ..Default::default() })]
        #[test]
        fn any_plain_name_is_what_the_host_parser_makes_of_it(host in "((xn--)?[a-z0-9-]{0,8}\\.){0,3}[a-z0-9x-]{0,8}") {
            if let Some(fast) = plain(&host) {
                proptest::prop_assert_eq!(host_to_ascii(&host), Ok(fast.to_owned()));
            }
        }
    }

    fn doc(
        domain: &str,
        verification: Verification,
        risk: Option<u8>,
        decision: Option<DecisionValue>,
    ) -> DomainDoc {
        DomainDoc {
            domain: domain.into(),
            verification,
            token: None,
            risk_score: risk,
            decision: decision.map(|value| DomainDecision {
                value,
                by: "t".into(),
                reason: "r".into(),
                at: "2026-01-01T00:00:00Z".into(),
            }),
            verified_at: None,
            checked_at: None,
            failure: None,
        }
    }

    #[test]
    fn verified_and_approved_only() {
        use DecisionValue::*;
        use Verification::*;
        let cases: [(Verification, Option<u8>, Option<DecisionValue>, bool); 9] = [
            (Verified, Some(10), None, true),
            (Verified, Some(30), None, false),
            (Verified, Some(95), Some(Approved), true),
            (Verified, Some(0), Some(Rejected), false),
            (Verified, None, None, false),
            (Verified, None, Some(Approved), true),
            (Pending, Some(0), Some(Approved), false),
            (Failed, Some(0), Some(Approved), false),
            (Pending, Some(0), None, false),
        ];
        for (verification, risk, decision, routable) in cases {
            let d = doc("shop.example.com", verification, risk, decision);
            assert_eq!(
                entry_routability(&d, 30).is_ok(),
                routable,
                "{verification:?} {risk:?} {decision:?}"
            );
        }
    }

    #[test]
    fn exact_beats_wildcard_and_longest_wildcard_wins() {
        let list = Allowlist::new(
            &[
                doc("*.example.com", Verification::Verified, Some(1), None),
                doc(
                    "bad.example.com",
                    Verification::Verified,
                    Some(1),
                    Some(DecisionValue::Rejected),
                ),
                doc("*.eu.example.com", Verification::Pending, None, None),
            ],
            30,
        );
        assert_eq!(list.check_host("shop.example.com"), Ok(()));
        assert_eq!(list.check_host("a.b.example.com"), Ok(()));
        assert!(matches!(
            list.check_host("bad.example.com"),
            Err(NotRoutable::Rejected { .. })
        ));
        assert!(matches!(
            list.check_host("de.eu.example.com"),
            Err(NotRoutable::Unverified { .. })
        ));
        assert!(matches!(
            list.check_host("example.com"),
            Err(NotRoutable::UnknownDomain { .. })
        ));
        assert!(matches!(
            list.check_host("evilexample.com"),
            Err(NotRoutable::UnknownDomain { .. })
        ));
    }

    #[test]
    fn url_form() {
        let list = Allowlist::new(
            &[doc(
                "shop.example.com",
                Verification::Verified,
                Some(0),
                None,
            )],
            30,
        );
        let check = |u: &str| list.check_url(&Url::parse(u).unwrap());
        assert_eq!(check("https://shop.example.com/x?y=1"), Ok(()));
        assert_eq!(check("https://SHOP.example.com:443/"), Ok(()));
        assert_eq!(
            check("http://shop.example.com/"),
            Err(NotRoutable::NotHttps)
        );
        assert_eq!(
            check("https://u:p@shop.example.com/"),
            Err(NotRoutable::HasUserInfo)
        );
        assert_eq!(
            check("https://shop.example.com:8443/"),
            Err(NotRoutable::HasPort)
        );
        assert_eq!(check("https://127.0.0.1/"), Err(NotRoutable::NotADomain));
        assert!(check("https://shop.example.com.evil.io/").is_err());
    }

    /// Regression: the scheme check sliced the input at byte 7 or 8, which panicked when
    /// that fell inside a multi-byte character (any API body or rule file could do it).
    #[test]
    fn multi_byte_input_is_refused_not_a_panic() {
        for raw in [
            "/\u{16b8f}\u{1093f}F",
            "ab\u{1f601}.com",
            "https:/\u{e9}x.example.com",
            "\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            let _ = normalise_domain(raw);
        }
        assert_eq!(
            normalise_domain("HTTPS://Shop.example.com"),
            Ok("shop.example.com".into())
        );
        assert_eq!(
            normalise_domain("ex\u{e4}mple.com"),
            Ok("xn--exmple-cua.com".into())
        );
    }

    /// Regression: hosts the URL parser accepts but no DNS name has were routable under
    /// a wildcard entry (`https://..gharart.in/`).
    #[test]
    fn malformed_hosts_under_a_wildcard_are_not_domains() {
        let list = Allowlist::new(
            &[doc("*.gharart.in", Verification::Verified, Some(0), None)],
            30,
        );
        let long = format!("https://{}.gharart.in/", "a".repeat(64));
        for bad in [
            "https://..gharart.in/",
            "https://a..gharart.in/",
            "https://a\"b.gharart.in/",
            "https://x.gharart.in./",
            long.as_str(),
        ] {
            let Ok(url) = Url::parse(bad) else { continue };
            assert_eq!(list.check_url(&url), Err(NotRoutable::NotADomain), "{bad}");
        }
        assert_eq!(
            list.check_url(&Url::parse("https://m.gharart.in/x").unwrap()),
            Ok(())
        );
    }

    #[test]
    fn domain_normalisation() {
        let ok = [
            ("Shop.Example.COM", "shop.example.com"),
            ("https://shop.example.com/", "shop.example.com"),
            ("  *.Example.com ", "*.example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("shop。example。com", "shop.example.com"),
            ("shop.example.com.", "shop.example.com"),
        ];
        for (raw, want) in ok {
            assert_eq!(normalise_domain(raw).as_deref(), Ok(want), "{raw}");
        }
        let bad = [
            ("", DomainNameError::Empty),
            ("shop.example.com:8080", DomainNameError::NotJustAHost),
            ("shop.example.com/path", DomainNameError::NotJustAHost),
            ("user@shop.example.com", DomainNameError::NotJustAHost),
            ("ftp://shop.example.com", DomainNameError::NotJustAHost),
            ("localhost", DomainNameError::NotPublic),
            ("10.0.0.1", DomainNameError::Invalid),
            ("a.*.example.com", DomainNameError::BadWildcard),
            ("-bad.example.com", DomainNameError::BadLabel),
            ("shop..example.com", DomainNameError::BadLabel),
            ("under_score.example.com", DomainNameError::BadLabel),
        ];
        for (raw, want) in bad {
            assert_eq!(normalise_domain(raw), Err(want), "{raw}");
        }
    }
}
