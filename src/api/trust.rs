//! Trust state belongs to the server. Whether a destination domain is verified, when,
//! with which token, when it was last checked and why that failed, its risk score and the
//! manual decision are facts the worker establishes (`/verify`, `/decision`, the
//! scheduled re-check), never fields a client may set; nor is the handle's
//! `risk_threshold`, which is platform configuration.
//!
//! A whole-configuration write (`PUT .../configuration`, `router push`, a restore) names
//! domains; [`keep_server_trust`] then keeps the stored trust fields of every domain the
//! handle already lists, and a domain it introduces starts `pending`, with a fresh token,
//! undecided and unscored. Every field it ignores is answered as a warning at its JSON
//! path. Seeding local dev from `rules/` sets these fields because it writes storage
//! directly, as an operator would; the API never does.

use sha2::{Digest, Sha256};

use crate::engine::allowlist::normalise_domain;
use crate::model::config::{DomainDoc, HandleConfig, Verification};
use crate::model::diag::{Diagnostic, Severity};
use crate::model::ids::hex;

/// The warning code of an ignored trust field.
pub const IGNORED: &str = "ignored_trust_field";

/// A fresh verification token for `domain`, from the request's random bytes (one
/// request may add several domains: each gets its own).
pub fn verification_token(random: &[u8], domain: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(random);
    hasher.update(domain.as_bytes());
    let digest = hasher.finalize();
    format!(
        "gharart-verify={}",
        hex(digest.get(..16).unwrap_or_default())
    )
}

/// Whether two entries name the same domain (as written, or once normalised).
fn same_domain(a: &str, b: &str) -> bool {
    a == b || matches!((normalise_domain(a), normalise_domain(b)), (Ok(x), Ok(y)) if x == y)
}

/// A domain as a new one starts: pending, undecided, unscored, never checked.
fn untrusted(domain: String, token: Option<String>) -> DomainDoc {
    DomainDoc {
        domain,
        verification: Verification::Pending,
        token,
        risk_score: None,
        decision: None,
        verified_at: None,
        checked_at: None,
        failure: None,
    }
}

/// Warnings for every trust field of `sent` that differs from `kept`.
fn ignored(sent: &DomainDoc, kept: &DomainDoc, index: usize, new: bool) -> Vec<Diagnostic> {
    let fields = [
        ("verification", sent.verification != kept.verification),
        ("token", sent.token.is_some() && sent.token != kept.token),
        ("risk_score", sent.risk_score != kept.risk_score),
        ("decision", sent.decision != kept.decision),
        ("verified_at", sent.verified_at != kept.verified_at),
        ("checked_at", sent.checked_at != kept.checked_at),
        ("failure", sent.failure != kept.failure),
    ];
    let why = if new {
        "ignored: a new domain starts pending, undecided and unscored; verify it (POST .../verify) and decide it (POST .../decision)"
    } else {
        "ignored: trust state belongs to the server; the stored value is kept"
    };
    fields
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(field, _)| Diagnostic {
            severity: Severity::Warning,
            code: IGNORED,
            path: format!("$.domains[{index}].{field}"),
            id: Some(sent.domain.clone()),
            message: why.to_owned(),
        })
        .collect()
}

/// Replaces `stored` with `incoming`, which keeps `stored`'s trust state (see
/// [`keep_server_trust`]): a whole-configuration write or a restore. Returns the warnings
/// for the fields ignored.
pub fn replace_keeping_trust(
    stored: &mut HandleConfig,
    mut incoming: HandleConfig,
    random: &[u8],
) -> Vec<Diagnostic> {
    let ignored = keep_server_trust(&mut incoming, stored, random);
    *stored = incoming;
    ignored
}

/// Makes `incoming` (a whole configuration a client sent) carry the server's trust
/// state: the stored trust fields for domains `stored` lists, a fresh pending state for
/// new ones, the stored `risk_threshold`. Returns a warning for every field it ignored.
pub fn keep_server_trust(
    incoming: &mut HandleConfig,
    stored: &HandleConfig,
    random: &[u8],
) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for (index, sent) in incoming.domains.iter_mut().enumerate() {
        let known = stored
            .domains
            .iter()
            .find(|d| same_domain(&d.domain, &sent.domain));
        let kept = match known {
            Some(doc) => DomainDoc {
                domain: sent.domain.clone(),
                ..doc.clone()
            },
            None => untrusted(
                sent.domain.clone(),
                Some(verification_token(random, &sent.domain)),
            ),
        };
        warnings.extend(ignored(sent, &kept, index, known.is_none()));
        *sent = kept;
    }
    if incoming.risk_threshold != stored.risk_threshold {
        warnings.push(Diagnostic {
            severity: Severity::Warning,
            code: IGNORED,
            path: "$.risk_threshold".into(),
            id: None,
            message: format!(
                "ignored: the risk threshold is platform configuration; it stays {}",
                stored.risk_threshold
            ),
        });
        incoming.risk_threshold = stored.risk_threshold;
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{DecisionValue, DomainDecision};

    fn festive() -> HandleConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
        crate::model::files::load_dir(&dir).unwrap().0
    }

    /// The issue's attack: a whole configuration that adds a self-verified, self-scored
    /// domain and routes an entry to it.
    #[test]
    fn a_self_verified_domain_starts_pending_and_every_claim_is_a_warning() {
        let stored = festive();
        let mut sent = stored.clone();
        sent.domains.push(DomainDoc {
            domain: "evil.example".into(),
            verification: Verification::Verified,
            token: Some("mine".into()),
            risk_score: Some(0),
            decision: Some(DomainDecision {
                value: DecisionValue::Approved,
                by: "me".into(),
                reason: "trust me".into(),
                at: "2026-11-29T00:00:00Z".into(),
            }),
            verified_at: Some("2026-11-29T00:00:00Z".into()),
            checked_at: None,
            failure: None,
        });
        let index = sent.domains.len() - 1;
        let warnings = keep_server_trust(&mut sent, &stored, b"random");
        let evil = &sent.domains[index];
        assert_eq!(evil.verification, Verification::Pending);
        assert_eq!(
            (evil.risk_score, &evil.decision, &evil.verified_at),
            (None, &None, &None)
        );
        assert!(evil
            .token
            .as_deref()
            .is_some_and(|t| t.starts_with("gharart-verify=") && t != "mine"));
        let paths: Vec<&str> = warnings.iter().map(|d| d.path.as_str()).collect();
        for field in [
            "verification",
            "token",
            "risk_score",
            "decision",
            "verified_at",
        ] {
            assert!(
                paths.contains(&format!("$.domains[{index}].{field}").as_str()),
                "{field}: {paths:?}"
            );
        }
        assert!(warnings
            .iter()
            .all(|d| d.severity == Severity::Warning && d.code == IGNORED));
        let compiled = crate::engine::compile::compile(&sent).unwrap();
        assert!(compiled
            .ruleset
            .allowlist()
            .check_host("evil.example")
            .is_err());
    }

    #[test]
    fn known_domains_keep_their_stored_trust_and_unchanged_ones_warn_nothing() {
        let stored = festive();
        let mut same = stored.clone();
        assert!(keep_server_trust(&mut same, &stored, b"r").is_empty());
        assert_eq!(same, stored, "sending back what was read changes nothing");
        let mut sent = stored.clone();
        let pending = sent
            .domains
            .iter()
            .position(|d| d.verification == Verification::Pending)
            .expect("rules/gharart lists a pending domain");
        sent.domains[pending].verification = Verification::Verified;
        sent.domains[pending].risk_score = Some(1);
        sent.risk_threshold = 100;
        let warnings = keep_server_trust(&mut sent, &stored, b"r");
        assert_eq!(sent, stored);
        let paths: Vec<String> = warnings.into_iter().map(|d| d.path).collect();
        assert!(paths.contains(&format!("$.domains[{pending}].verification")));
        assert!(paths.contains(&"$.risk_threshold".to_owned()));
    }

    #[test]
    fn each_new_domain_gets_its_own_token() {
        assert_ne!(
            verification_token(b"r", "a.example"),
            verification_token(b"r", "b.example")
        );
        assert_ne!(
            verification_token(b"r", "a.example"),
            verification_token(b"s", "a.example")
        );
    }
}
