//! The visitor's preferred language from `Accept-Language` (RFC 9110 §12.5.4).
//!
//! Written here rather than taken from a crate because the router needs exactly one
//! answer (the most-preferred concrete tag) with bounded work on hostile headers, and
//! the parsing is a dozen lines. Tags are lower-cased; `*` and `q=0` never win; among
//! equal weights the earlier tag wins.
//!
//! A rule's language condition matches the preferred tag itself or its primary subtag:
//! the value `hi` matches `hi` and `hi-IN`; the value `en-gb` matches only `en-GB`.

/// Most entries of a header looked at; the rest are ignored.
const MAX_ENTRIES: usize = 32;
/// Longest language tag accepted (BCP 47 tags in practice stay well under this).
const MAX_TAG_LEN: usize = 35;

/// Returns the visitor's most preferred language tag, lower-cased, if any.
pub fn preferred_language(header: &str) -> Option<String> {
    let mut best: Option<(&str, u16)> = None;
    for entry in header.split(',').take(MAX_ENTRIES) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        if tag == "*" || !is_language_tag(tag) {
            continue;
        }
        let weight = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .map_or(Some(1000), parse_qvalue);
        let Some(weight) = weight.filter(|w| *w > 0) else {
            continue;
        };
        if best.is_none_or(|(_, w)| weight > w) {
            best = Some((tag, weight));
        }
    }
    best.map(|(tag, _)| tag.to_ascii_lowercase())
}

/// Whether a visitor language matches a condition value (both lower-case).
pub fn language_matches(visitor: &str, value: &str) -> bool {
    visitor == value
        || visitor
            .strip_prefix(value)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// Whether a string is a plausible language tag: ASCII alphanumeric subtags of 1 to 8
/// characters separated by `-`, the first alphabetic.
pub fn is_language_tag(tag: &str) -> bool {
    if tag.is_empty() || tag.len() > MAX_TAG_LEN {
        return false;
    }
    let mut subtags = tag.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Parses an RFC 9110 qvalue into thousandths (`0.8` is 800); `None` when malformed.
fn parse_qvalue(raw: &str) -> Option<u16> {
    let raw = raw.trim();
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_most_preferred_tag() {
        let cases = [
            ("hi-IN,hi;q=0.9,en-US;q=0.8,en;q=0.7", Some("hi-in")),
            ("en;q=0.5, ar-AE", Some("ar-ae")),
            ("fr;q=0.8, de;q=0.8", Some("fr")),
            ("*, ta;q=0.4", Some("ta")),
            ("en;q=0, de;q=0.001", Some("de")),
            ("en;q=0", None),
            ("", None),
            ("!!!, 12-ab", None),
            ("en;q=1.5, es", Some("es")),
            ("en;q=abc, pt-BR;q=0.2", Some("pt-br")),
        ];
        for (header, expected) in cases {
            assert_eq!(
                preferred_language(header).as_deref(),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn bounded_on_hostile_headers() {
        let header = format!(
            "{}de",
            "x-invalid-tag-that-is-far-too-long-to-be-real,".repeat(1000)
        );
        assert_eq!(
            preferred_language(&header),
            None,
            "entries past the limit are ignored"
        );
        assert_eq!(preferred_language(&"a".repeat(100_000)), None);
    }

    #[test]
    fn matching_by_primary_subtag() {
        assert!(language_matches("hi-in", "hi"));
        assert!(language_matches("hi", "hi"));
        assert!(!language_matches("hil", "hi"));
        assert!(language_matches("en-gb", "en-gb"));
        assert!(!language_matches("en-us", "en-gb"));
        assert!(!language_matches("en", "en-gb"));
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.25"), Some(250));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("-0.5"), None);
    }
}
