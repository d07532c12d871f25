//! Exposures: the record that a visit showed a visitor a campaign variant, the rule for
//! which visits record one, and the queue message that carries it to the consumer.
//!
//! # The rule
//!
//! A visit is **exposed** when it is answered with a redirect to an assigned variant and
//! none of these holds ([`Unexposed`] names each):
//!
//! - it is a **preview** (a valid preview token came with it, forced variant or not);
//! - the device is a **crawler** (woothee's crawler category; crawlers never get a
//!   variant anyway, so this is a second fence);
//! - the method is **HEAD** (a link checker or a prefetch, not a visitor who was shown
//!   anything);
//! - the User-Agent names a known **link-preview fetcher** ([`LINK_PREVIEW_MARKERS`]):
//!   the bots chat apps and social networks send to build a card for a pasted link.
//!   They arrive before (and often instead of) the person, carry no visitor cookie, and
//!   would each count as a new exposed visitor who never converts.
//!
//! A visit that assigned no variant (no campaign, a paused or not-started one, a variant
//! whose destination is not routable, the safe page) has nothing to expose.
//!
//! # The message (format version 1)
//!
//! One JSON object per exposure, compact, with a version so the consumer can refuse what
//! it does not understand ([`Exposure::to_message`], [`Exposure::parse`]):
//!
//! ```text
//! {"v":1,"id":"<visit id>","handle":"gharart","campaign":"diwali-hero-ab",
//!  "variant":"control","visitor":"<32 hex>","at":1795000000000}
//! ```
//!
//! `id` is the visit's request id (unique per visit): the consumer's idempotency key, so
//! a redelivered message never counts a visit twice. `at` is the time of the visit in
//! Unix milliseconds. About 170 bytes; the queue charges per 64 KB.

use serde::{Deserialize, Serialize};

use super::headers::is_visitor_id;
use crate::engine::device::DeviceCategory;
use crate::model::ids::{is_valid_id, is_valid_slug};

/// The message format version this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// Longest message the consumer parses; anything longer is poison.
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// User-Agent markers of link-preview fetchers (matched case-insensitively anywhere in
/// the header), each with who sends it. Apple's iMessage previews identify as
/// `… facebookexternalhit/1.1 Facebot Twitterbot/1.0` and are caught by those. In-app
/// browsers of the same apps (`FBAN/`, `Instagram`, `LinkedInApp`, `Twitter for iPhone`,
/// `Snapchat/`) are people and do not match.
pub const LINK_PREVIEW_MARKERS: &[(&str, &str)] = &[
    ("slackbot", "Slack (Slackbot-LinkExpanding, Slackbot)"),
    ("slack-imgproxy", "Slack image proxy"),
    ("whatsapp/", "WhatsApp"),
    ("twitterbot", "X/Twitter, Apple iMessage"),
    (
        "facebookexternalhit",
        "Facebook, Messenger, Instagram, Apple iMessage",
    ),
    ("facebot", "Facebook, Apple iMessage"),
    ("linkedinbot", "LinkedIn"),
    ("telegrambot", "Telegram"),
    ("discordbot", "Discord"),
    ("skypeuripreview", "Skype, Microsoft Teams"),
    ("microsoftpreview", "Microsoft Teams, Outlook"),
    ("bingpreview", "Bing, Outlook"),
    ("google-pagerenderer", "Google snippets"),
    ("redditbot", "Reddit"),
    ("pinterestbot", "Pinterest"),
    ("pinterest/0.", "Pinterest"),
    ("embedly", "Embedly"),
    ("iframely", "Iframely"),
    ("snap url preview", "Snapchat"),
    ("bluesky cardyb", "Bluesky"),
    ("mastodon/", "Mastodon"),
    ("kakaotalk-scrap", "KakaoTalk"),
    ("quora link preview", "Quora"),
    ("vkshare", "VK"),
];

/// Longest User-Agent looked at for markers (as for device classification).
const MAX_UA_LEN: usize = 512;

/// One exposure: a visitor was shown a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// The visit's id (its request id): the idempotency key of its visit count.
    pub id: String,
    /// The handle.
    pub handle: String,
    /// The campaign.
    pub campaign: String,
    /// The variant shown.
    pub variant: String,
    /// The visitor (the `gh_vid` cookie's 32 hex digits).
    pub visitor_id: String,
    /// When, in Unix milliseconds.
    pub at: i64,
}

/// Why a visit that assigned a variant records no exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unexposed {
    /// A preview (valid preview token).
    Preview,
    /// A crawler.
    Crawler,
    /// A HEAD request.
    Head,
    /// A link-preview fetcher.
    LinkPreview {
        /// The marker its User-Agent matched.
        marker: &'static str,
    },
}

/// What the exposure rule looks at besides the assignment.
#[derive(Debug, Clone, Copy)]
pub struct VisitKind<'a> {
    /// Whether a valid preview token came with the visit.
    pub preview: bool,
    /// The device category.
    pub device: DeviceCategory,
    /// Whether the method is HEAD.
    pub head: bool,
    /// The User-Agent, when the visit came with headers.
    pub user_agent: Option<&'a str>,
}

/// The link-preview marker a User-Agent carries, if any.
pub fn link_preview_marker(user_agent: &str) -> Option<&'static str> {
    let mut end = user_agent.len().min(MAX_UA_LEN);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    let lowered = user_agent.get(..end)?.to_ascii_lowercase();
    LINK_PREVIEW_MARKERS
        .iter()
        .map(|(marker, _)| *marker)
        .find(|marker| lowered.contains(marker))
}

/// Whether a visit that assigned a variant is exposed (`Ok`), or why not.
///
/// # Errors
/// The first reason that holds, in the order of [`Unexposed`].
pub fn exposed(kind: VisitKind<'_>) -> Result<(), Unexposed> {
    if kind.preview {
        return Err(Unexposed::Preview);
    }
    if kind.device == DeviceCategory::Crawler {
        return Err(Unexposed::Crawler);
    }
    if kind.head {
        return Err(Unexposed::Head);
    }
    match kind.user_agent.and_then(link_preview_marker) {
        Some(marker) => Err(Unexposed::LinkPreview { marker }),
        None => Ok(()),
    }
}

/// Why a queue message is not an exposure (the consumer dead-letters it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poison {
    /// Longer than [`MAX_MESSAGE_BYTES`].
    TooLong(usize),
    /// Not a JSON object.
    NotJson(String),
    /// A format version this build does not read (`None`: none given).
    UnknownVersion(Option<u64>),
    /// The right version, but a field is missing, of the wrong type or not valid.
    Invalid(String),
}

impl std::fmt::Display for Poison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong(n) => write!(f, "{n} bytes, over {MAX_MESSAGE_BYTES}"),
            Self::NotJson(why) => write!(f, "not a JSON object: {why}"),
            Self::UnknownVersion(Some(v)) => write!(f, "format version {v}, not {FORMAT_VERSION}"),
            Self::UnknownVersion(None) => f.write_str("no format version `v`"),
            Self::Invalid(why) => write!(f, "not an exposure: {why}"),
        }
    }
}

/// The message as written.
#[derive(Serialize)]
struct Out<'a> {
    v: u64,
    id: &'a str,
    handle: &'a str,
    campaign: &'a str,
    variant: &'a str,
    visitor: &'a str,
    at: i64,
}

/// The message as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    #[serde(rename = "v")]
    _version: u64,
    id: String,
    handle: String,
    campaign: String,
    variant: String,
    visitor: String,
    at: i64,
}

impl Exposure {
    /// The queue message (format version 1, compact JSON).
    pub fn to_message(&self) -> String {
        let out = Out {
            v: FORMAT_VERSION,
            id: &self.id,
            handle: &self.handle,
            campaign: &self.campaign,
            variant: &self.variant,
            visitor: &self.visitor_id,
            at: self.at,
        };
        // Strings and an integer: serialising cannot fail.
        serde_json::to_string(&out).unwrap_or_default()
    }

    /// Reads a queue message.
    ///
    /// # Errors
    /// [`Poison`]: too long, not JSON, another version, or not a valid exposure.
    pub fn parse(message: &str) -> Result<Exposure, Poison> {
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(Poison::TooLong(message.len()));
        }
        let value: serde_json::Value =
            serde_json::from_str(message).map_err(|e| Poison::NotJson(e.to_string()))?;
        let Some(object) = value.as_object() else {
            return Err(Poison::NotJson("not an object".into()));
        };
        let version = object.get("v").and_then(serde_json::Value::as_u64);
        if version != Some(FORMAT_VERSION) {
            return Err(Poison::UnknownVersion(version));
        }
        let read: In = serde_json::from_value(value).map_err(|e| Poison::Invalid(e.to_string()))?;
        let invalid = |field: &str, value: &str| {
            Err(Poison::Invalid(format!(
                "{field} {:?} is not valid",
                value.chars().take(80).collect::<String>()
            )))
        };
        if !is_valid_id(&read.id) {
            return invalid("id", &read.id);
        }
        if !is_valid_slug(&read.handle) {
            return invalid("handle", &read.handle);
        }
        if !is_valid_id(&read.campaign) {
            return invalid("campaign", &read.campaign);
        }
        if !is_valid_id(&read.variant) {
            return invalid("variant", &read.variant);
        }
        if !is_visitor_id(&read.visitor) {
            return invalid("visitor", &read.visitor);
        }
        if read.at <= 0 {
            return invalid("at", &read.at.to_string());
        }
        Ok(Exposure {
            id: read.id,
            handle: read.handle,
            campaign: read.campaign,
            variant: read.variant,
            visitor_id: read.visitor,
            at: read.at,
        })
    }
}

#[cfg(test)]
mod tests;
