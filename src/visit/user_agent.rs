//! Device classification: category, OS and browser from the User-Agent (woothee), refined
//! by User-Agent Client Hints where the browser sends them.
//!
//! Categories are the router's own, coarser than woothee's: `desktop`, `mobile`, `tablet`,
//! `crawler`, `other`. Tablets are told apart from phones by the iPad name and by Android
//! without the `Mobile` token (Google's documented convention). Client hints win over the
//! User-Agent when they disagree (`Sec-CH-UA-Mobile: ?1` means mobile; a platform hint
//! names the OS), except that a recognised crawler stays a crawler.

use crate::engine::device::{DeviceCategory, DeviceFacts, DeviceSource};

/// The raw inputs device classification reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceHeaders<'a> {
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// `Sec-CH-UA-Mobile` (`?0` or `?1`).
    pub ch_mobile: Option<&'a str>,
    /// `Sec-CH-UA-Platform` (a quoted platform name).
    pub ch_platform: Option<&'a str>,
}

/// Longest User-Agent looked at; anything beyond is ignored (hostile headers cost nothing).
const MAX_UA_LEN: usize = 512;

/// What woothee reports for a User-Agent (woothee's own field names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct UaFields {
    /// Browser or crawler name, e.g. `Safari`, `Googlebot`.
    name: String,
    /// `pc`, `smartphone`, `mobilephone`, `crawler`, `appliance`, `misc`, `UNKNOWN`.
    category: String,
    /// OS name, e.g. `iPhone`, `Windows 10`, `Android`.
    os: String,
}

/// Classifications already made, by their headers: a User-Agent seen before costs a map
/// lookup instead of woothee's patterns (the edge keeps one per isolate; real traffic
/// repeats a few thousand User-Agents). Bounded: at [`Memo::CAPACITY`] entries it starts
/// over.
#[derive(Debug, Default)]
pub struct Memo {
    // foldhash rather than std's SipHash: hashing the User-Agent was a visible part of a
    // visit in wasm. Seeded per process; the memo is bounded, so colliding keys could
    // cost at most a scan of [`Memo::CAPACITY`] entries.
    known: std::collections::HashMap<String, DeviceFacts, foldhash::fast::RandomState>,
}

impl Memo {
    /// Most classifications kept.
    pub const CAPACITY: usize = 1024;

    /// [`classify`], remembered.
    pub fn classify(&mut self, headers: DeviceHeaders<'_>) -> DeviceFacts {
        let hint_len = |h: Option<&str>| h.map_or(0, str::len);
        if hint_len(headers.ch_mobile) > 8 || hint_len(headers.ch_platform) > 64 {
            // No real browser sends hints this long: not worth a slot.
            return classify(headers);
        }
        let ua = headers.user_agent.map(truncate_ua).unwrap_or_default();
        let (mobile, platform) = (
            headers.ch_mobile.unwrap_or_default(),
            headers.ch_platform.unwrap_or_default(),
        );
        let mut key = String::with_capacity(mobile.len() + platform.len() + ua.len() + 2);
        for part in [mobile, "\n", platform, "\n", ua] {
            key.push_str(part);
        }
        if let Some(facts) = self.known.get(&key) {
            return facts.clone();
        }
        let facts = classify(headers);
        if self.known.len() >= Self::CAPACITY {
            self.known.clear();
        }
        self.known.insert(key, facts.clone());
        facts
    }
}

/// User-Agents that walk woothee through its main branches (browsers, mobile OSes,
/// crawlers, appliances), so its lazily built patterns are compiled by [`warm`].
const WARM_UP: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 OPR/110.0 Vivaldi/6.7",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "DoCoMo/2.0 P903i(c100;TB;W24H12)",
    "Mozilla/5.0 (PlayStation 4 3.11) AppleWebKit/537.73 (KHTML, like Gecko)",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "curl/8.5.0",
];

/// Classifies a few User-Agents so woothee's patterns are compiled before the first
/// visitor (the edge calls it when the isolate starts).
pub fn warm() {
    for ua in WARM_UP {
        classify(DeviceHeaders {
            user_agent: Some(ua),
            ..DeviceHeaders::default()
        });
    }
}

/// Classifies a device from its headers. Never fails: unknown input is `other`.
pub fn classify(headers: DeviceHeaders<'_>) -> DeviceFacts {
    let Some(ua) = headers
        .user_agent
        .map(truncate_ua)
        .filter(|ua| !ua.trim().is_empty())
    else {
        return DeviceFacts::default();
    };
    let mut facts = from_fields(ua, parse(ua));
    if facts.category != DeviceCategory::Crawler {
        apply_client_hints(&mut facts, headers);
    }
    facts
}

/// Parses a User-Agent with woothee (the `woothee` crate, natively and in the worker).
fn parse(ua: &str) -> Option<UaFields> {
    woothee::parser::Parser::new().parse(ua).map(|r| UaFields {
        name: r.name.to_owned(),
        category: r.category.to_owned(),
        os: r.os.to_owned(),
    })
}

fn truncate_ua(ua: &str) -> &str {
    if ua.len() <= MAX_UA_LEN {
        return ua;
    }
    let mut end = MAX_UA_LEN;
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    &ua[..end]
}

fn from_fields(ua: &str, parsed: Option<UaFields>) -> DeviceFacts {
    let (category, os, browser) = match parsed {
        Some(result) => {
            let os = normalise_os(&result.os);
            let category = match result.category.as_str() {
                "crawler" => DeviceCategory::Crawler,
                "pc" => DeviceCategory::Desktop,
                "smartphone" | "mobilephone" if is_tablet(ua, &result.os) => DeviceCategory::Tablet,
                "smartphone" | "mobilephone" => DeviceCategory::Mobile,
                _ => DeviceCategory::Other,
            };
            (
                category,
                os,
                normalise_browser(&result.name, &result.category),
            )
        }
        None => (DeviceCategory::Other, None, None),
    };
    DeviceFacts {
        category,
        os,
        browser,
        source: DeviceSource::UserAgent,
    }
}

fn is_tablet(ua: &str, woothee_os: &str) -> bool {
    woothee_os == "iPad" || (woothee_os == "Android" && !ua.contains("Mobile"))
}

fn normalise_os(os: &str) -> Option<String> {
    let name = match os {
        "" | "UNKNOWN" => return None,
        o if o.starts_with("Windows Phone") => "windows-phone",
        o if o.starts_with("Windows") => "windows",
        "Mac OSX" | "Mac OS Classic" => "macos",
        "iPhone" | "iPad" | "iPod" | "iOS" => "ios",
        "Android" => "android",
        "ChromeOS" => "chromeos",
        "Linux" => "linux",
        other => return Some(slug(other)),
    };
    Some(name.to_owned())
}

fn normalise_browser(name: &str, category: &str) -> Option<String> {
    if matches!(name, "" | "UNKNOWN") || category == "crawler" {
        return None;
    }
    Some(match name {
        "Internet Explorer" => "ie".to_owned(),
        "SamsungBrowser" => "samsung".to_owned(),
        other => slug(other),
    })
}

fn slug(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(' ', "-")
}

fn apply_client_hints(facts: &mut DeviceFacts, headers: DeviceHeaders<'_>) {
    let mobile_hint = headers.ch_mobile.map(str::trim).and_then(|v| match v {
        "?1" => Some(true),
        "?0" => Some(false),
        _ => None,
    });
    if let Some(mobile) = mobile_hint {
        let hinted = match (mobile, facts.category) {
            (true, DeviceCategory::Mobile) => None,
            (true, _) => Some(DeviceCategory::Mobile),
            (false, DeviceCategory::Mobile) => Some(DeviceCategory::Desktop),
            (false, _) => None,
        };
        if let Some(category) = hinted {
            facts.category = category;
            facts.source = DeviceSource::ClientHints;
        }
    }
    let platform = headers
        .ch_platform
        .map(|p| p.trim().trim_matches('"'))
        .and_then(|p| match p {
            "Android" => Some("android"),
            "iOS" => Some("ios"),
            "macOS" => Some("macos"),
            "Windows" => Some("windows"),
            "Linux" => Some("linux"),
            "Chrome OS" | "ChromeOS" => Some("chromeos"),
            _ => None,
        });
    if let Some(os) = platform {
        if facts.os.as_deref() != Some(os) {
            facts.os = Some(os.to_owned());
            facts.source = DeviceSource::ClientHints;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
    const ANDROID_PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
    const ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const WINDOWS_CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const MAC_FIREFOX: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0";
    const GOOGLEBOT: &str =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    fn ua(ua: &str) -> DeviceFacts {
        classify(DeviceHeaders {
            user_agent: Some(ua),
            ..Default::default()
        })
    }

    #[test]
    fn user_agents() {
        struct Case(
            &'static str,
            DeviceCategory,
            Option<&'static str>,
            Option<&'static str>,
        );
        let cases = [
            Case(IPHONE, DeviceCategory::Mobile, Some("ios"), Some("safari")),
            Case(IPAD, DeviceCategory::Tablet, Some("ios"), Some("safari")),
            Case(
                ANDROID_PHONE,
                DeviceCategory::Mobile,
                Some("android"),
                Some("chrome"),
            ),
            Case(
                ANDROID_TABLET,
                DeviceCategory::Tablet,
                Some("android"),
                Some("chrome"),
            ),
            Case(
                WINDOWS_CHROME,
                DeviceCategory::Desktop,
                Some("windows"),
                Some("chrome"),
            ),
            Case(
                MAC_FIREFOX,
                DeviceCategory::Desktop,
                Some("macos"),
                Some("firefox"),
            ),
            Case(GOOGLEBOT, DeviceCategory::Crawler, None, None),
            Case(
                "curl/8.5.0",
                DeviceCategory::Other,
                None,
                Some("http-library"),
            ),
        ];
        for Case(input, category, os, browser) in cases {
            let facts = ua(input);
            assert_eq!(facts.category, category, "{input}");
            assert_eq!(facts.os.as_deref(), os, "{input}");
            assert_eq!(facts.browser.as_deref(), browser, "{input}");
            assert_eq!(facts.source, DeviceSource::UserAgent);
        }
    }

    /// Agents the npm build of woothee (used on the edge before) misclassified: the
    /// crate knows them.
    #[test]
    fn samsung_browser_and_adsbot_mobile() {
        let samsung = "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36";
        let adsbot = "Mozilla/5.0 (iPhone; CPU iPhone OS 14_7_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1.2 Mobile/15E148 Safari/604.1 (compatible; AdsBot-Google-Mobile; +http://www.google.com/mobile/adsbot.html)";
        assert_eq!(ua(samsung).browser.as_deref(), Some("samsung"));
        assert_eq!(ua(adsbot).category, DeviceCategory::Crawler);
    }

    #[test]
    fn missing_user_agent_is_other() {
        let facts = classify(DeviceHeaders::default());
        assert_eq!(
            (facts.category, facts.source),
            (DeviceCategory::Other, DeviceSource::Missing)
        );
    }

    #[test]
    fn client_hints_refine_reduced_user_agent() {
        // Chrome's reduced UA on a phone in desktop mode says Windows; the hints say otherwise.
        let facts = classify(DeviceHeaders {
            user_agent: Some(WINDOWS_CHROME),
            ch_mobile: Some("?1"),
            ch_platform: Some("\"Android\""),
        });
        assert_eq!(facts.category, DeviceCategory::Mobile);
        assert_eq!(facts.os.as_deref(), Some("android"));
        assert_eq!(facts.source, DeviceSource::ClientHints);
    }

    #[test]
    fn agreeing_hints_leave_the_user_agent_as_source() {
        let facts = classify(DeviceHeaders {
            user_agent: Some(WINDOWS_CHROME),
            ch_mobile: Some("?0"),
            ch_platform: Some("\"Windows\""),
        });
        assert_eq!(
            (facts.category, facts.source),
            (DeviceCategory::Desktop, DeviceSource::UserAgent)
        );
    }

    #[test]
    fn crawlers_ignore_hints() {
        let facts = classify(DeviceHeaders {
            user_agent: Some(GOOGLEBOT),
            ch_mobile: Some("?1"),
            ch_platform: None,
        });
        assert_eq!(facts.category, DeviceCategory::Crawler);
    }

    #[test]
    fn overlong_user_agent_is_truncated_on_a_char_boundary() {
        let long = format!("{IPHONE}{}", "é".repeat(400));
        assert_eq!(ua(&long).category, DeviceCategory::Mobile);
    }

    #[test]
    fn category_names_round_trip() {
        for c in DeviceCategory::ALL {
            assert_eq!(DeviceCategory::parse(c.as_str()), Some(c));
        }
        assert_eq!(
            DeviceCategory::parse("MOBILE"),
            Some(DeviceCategory::Mobile)
        );
        assert_eq!(DeviceCategory::parse("phone"), None);
    }

    #[test]
    fn the_memo_answers_like_classify_and_stays_bounded() {
        let mut memo = Memo::default();
        let cases = [
            (Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"), None, None),
            (Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"), Some("?1"), Some("\"Android\"")),
            (Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"), None, None),
            (Some("Googlebot/2.1 (+http://www.google.com/bot.html)"), Some("?1"), None),
            (None, None, None),
        ];
        for _ in 0..2 {
            for (user_agent, ch_mobile, ch_platform) in cases {
                let headers = DeviceHeaders {
                    user_agent,
                    ch_mobile,
                    ch_platform,
                };
                assert_eq!(
                    memo.classify(headers),
                    classify(headers),
                    "{user_agent:?} {ch_mobile:?}"
                );
            }
        }
        assert_eq!(
            memo.known.len(),
            cases.len(),
            "the same headers share a slot, hints apart"
        );
        for i in 0..Memo::CAPACITY + 10 {
            let ua = format!("Mozilla/5.0 (X11; Linux x86_64) Firefox/{i}");
            memo.classify(DeviceHeaders {
                user_agent: Some(&ua),
                ..DeviceHeaders::default()
            });
        }
        assert!(memo.known.len() <= Memo::CAPACITY);
    }
}
