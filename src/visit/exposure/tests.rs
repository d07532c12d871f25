use super::*;

const VID: &str = "0123456789abcdef0123456789abcdef";

fn person(user_agent: &str) -> VisitKind<'_> {
    VisitKind {
        preview: false,
        device: DeviceCategory::Mobile,
        head: false,
        user_agent: Some(user_agent),
    }
}

/// Link-preview fetchers as they identify themselves (from each service's documentation
/// or captured requests), with the marker each must match.
const FETCHERS: &[(&str, &str)] = &[
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "slackbot"),
    ("Slackbot 1.0 (+https://api.slack.com/robots)", "slackbot"),
    ("Slack-ImgProxy (+https://api.slack.com/robots)", "slack-imgproxy"),
    ("WhatsApp/2.23.20.0 A", "whatsapp/"),
    ("WhatsApp/2.2329.7 i", "whatsapp/"),
    ("Twitterbot/1.0", "twitterbot"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "facebookexternalhit"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0", "twitterbot"),
    ("Facebot", "facebot"),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", "linkedinbot"),
    ("TelegramBot (like TwitterBot)", "twitterbot"),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "discordbot"),
    ("SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com", "skypeuripreview"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/117.0 Safari/537.36 MicrosoftPreview/2.0 +https://aka.ms/MicrosoftPreview", "microsoftpreview"),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b", "bingpreview"),
    ("Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0 Mobile Safari/537.36 Google-PageRenderer Google (+https://developers.google.com/+/web/snippet/)", "google-pagerenderer"),
    ("Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)", "redditbot"),
    ("Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)", "pinterestbot"),
    ("Pinterest/0.2 (+http://www.pinterest.com/bot.html)", "pinterest/0."),
    ("Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)", "embedly"),
    ("Iframely/1.3.1 (+https://iframely.com/docs/about)", "iframely"),
    ("Snap URL Preview Service; bot; snapchat; https://developers.snap.com/robots", "snap url preview"),
    ("Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)", "bluesky cardyb"),
    ("http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.social/)", "mastodon/"),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0 Safari/537.36 kakaotalk-scrap/1.0", "kakaotalk-scrap"),
    ("Quora Link Preview/1.0 (http://www.quora.com)", "quora link preview"),
    ("Mozilla/5.0 (compatible; vkShare; +http://vk.com/dev/Share)", "vkshare"),
];

/// People: browsers and the in-app browsers of the same apps.
const PEOPLE: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/455.0.0.44.107;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBLC/en_US;FBOP/5]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 325.0.0.35.91 (iPhone15,2; iOS 17_4; en_US; en; scale=3.00; 1179x2556)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.7431",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Snapchat/12.80.0.43 (like Safari/8617.1.17.10.7, panda)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Twitter for iPhone/10.34",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/123.0 Mobile Safari/537.36 Telegram-Android/10.9.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]",
];

#[test]
fn every_documented_fetcher_is_a_link_preview_and_no_person_is() {
    for (ua, marker) in FETCHERS {
        assert_eq!(
            exposed(person(ua)),
            Err(Unexposed::LinkPreview { marker }),
            "{ua}"
        );
    }
    for ua in PEOPLE {
        assert_eq!(exposed(person(ua)), Ok(()), "{ua}");
    }
    // Every marker of the list is exercised by some fetcher above.
    for (marker, who) in LINK_PREVIEW_MARKERS {
        assert!(
            FETCHERS
                .iter()
                .any(|(ua, _)| ua.to_ascii_lowercase().contains(marker)),
            "no test user agent for {marker} ({who})"
        );
        assert_eq!(
            marker.to_ascii_lowercase(),
            *marker,
            "markers are lower case"
        );
    }
}

#[test]
fn previews_crawlers_and_head_requests_are_not_exposures_in_that_order() {
    let browser = PEOPLE[0];
    let base = person(browser);
    assert_eq!(exposed(base), Ok(()));
    assert_eq!(
        exposed(VisitKind {
            preview: true,
            head: true,
            ..base
        }),
        Err(Unexposed::Preview)
    );
    assert_eq!(
        exposed(VisitKind {
            device: DeviceCategory::Crawler,
            head: true,
            ..base
        }),
        Err(Unexposed::Crawler)
    );
    assert_eq!(
        exposed(VisitKind { head: true, ..base }),
        Err(Unexposed::Head)
    );
    assert_eq!(
        exposed(VisitKind {
            user_agent: None,
            ..base
        }),
        Ok(()),
        "no User-Agent (known device facts): nothing to match"
    );
}

#[test]
fn markers_are_looked_for_in_the_first_512_bytes_only() {
    let padded = format!("{}Twitterbot/1.0", "é".repeat(300));
    assert_eq!(link_preview_marker(&padded), None);
    assert_eq!(
        link_preview_marker(&format!("{}Twitterbot/1.0", "x".repeat(400))),
        Some("twitterbot")
    );
}

fn sample() -> Exposure {
    Exposure {
        id: "5f2c0a9e8d7b6a5f4e3d2c1b0a998877".into(),
        handle: "gharart".into(),
        campaign: "diwali-hero-ab".into(),
        variant: "control".into(),
        visitor_id: VID.into(),
        at: 1_795_000_000_123,
    }
}

#[test]
fn the_message_is_compact_versioned_json_and_reads_back() {
    let message = sample().to_message();
    assert_eq!(
        message,
        format!(
            r#"{{"v":1,"id":"5f2c0a9e8d7b6a5f4e3d2c1b0a998877","handle":"gharart","campaign":"diwali-hero-ab","variant":"control","visitor":"{VID}","at":1795000000123}}"#
        )
    );
    assert!(message.len() < 200, "{} bytes", message.len());
    assert_eq!(Exposure::parse(&message), Ok(sample()));
    // Key order and whitespace do not matter.
    let reordered = format!(
        r#"{{ "at": 1795000000123, "visitor": "{VID}", "variant": "control", "campaign": "diwali-hero-ab", "handle": "gharart", "id": "5f2c0a9e8d7b6a5f4e3d2c1b0a998877", "v": 1 }}"#
    );
    assert_eq!(Exposure::parse(&reordered), Ok(sample()));
}

#[test]
fn poison_messages_say_what_is_wrong() {
    let good = sample().to_message();
    let with = |from: &str, to: &str| good.replace(from, to);
    type Expect = fn(&Poison) -> bool;
    let cases: Vec<(String, Expect)> = vec![
        (String::new(), |p| matches!(p, Poison::NotJson(_))),
        ("{".into(), |p| matches!(p, Poison::NotJson(_))),
        ("[1,2]".into(), |p| matches!(p, Poison::NotJson(_))),
        ("\"text\"".into(), |p| matches!(p, Poison::NotJson(_))),
        (with(r#""v":1"#, r#""v":2"#), |p| {
            *p == Poison::UnknownVersion(Some(2))
        }),
        (with(r#""v":1"#, r#""v":"1""#), |p| {
            *p == Poison::UnknownVersion(None)
        }),
        (with(r#""v":1,"#, ""), |p| {
            *p == Poison::UnknownVersion(None)
        }),
        (with("\"at\":1795000000123", "\"at\":\"soon\""), |p| {
            matches!(p, Poison::Invalid(_))
        }),
        (with("\"at\":1795000000123", "\"at\":0"), |p| {
            matches!(p, Poison::Invalid(_))
        }),
        (
            with("\"handle\":\"gharart\"", "\"handle\":\"Gharart\""),
            |p| matches!(p, Poison::Invalid(_)),
        ),
        (with("\"variant\":\"control\"", "\"variant\":\"\""), |p| {
            matches!(p, Poison::Invalid(_))
        }),
        (with(VID, "not-a-visitor"), |p| {
            matches!(p, Poison::Invalid(_))
        }),
        (with("\"id\":\"5f2c", "\"id\":\"/5f2c"), |p| {
            matches!(p, Poison::Invalid(_))
        }),
        (with("\"at\"", "\"extra\":1,\"at\""), |p| {
            matches!(p, Poison::Invalid(_))
        }),
        (with("\"campaign\":\"diwali-hero-ab\",", ""), |p| {
            matches!(p, Poison::Invalid(_))
        }),
        (format!("{}{good}", " ".repeat(MAX_MESSAGE_BYTES)), |p| {
            matches!(p, Poison::TooLong(_))
        }),
    ];
    for (message, expected) in cases {
        let err = Exposure::parse(&message).unwrap_err();
        assert!(expected(&err), "{message:?}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
}
