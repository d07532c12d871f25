//! Site-structure campaign pages as stored: per `(handle, campaign)` a draft and a
//! published revision, each with an access level and a page document whose shape is
//! [`document`]. The operations on them are the API's (`crate::api::pages`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod document;

/// Who may see a page (enforced by the storefront).
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLevel {
    /// Anyone.
    Public,
    /// Visitors signed in with a free account (what campaign pages need).
    FreeWithLogin,
    /// Paying members.
    Paid,
    /// Nobody outside Gharart; never served by the public routes.
    Private,
}

impl AccessLevel {
    /// The level's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "PUBLIC",
            Self::FreeWithLogin => "FREE_WITH_LOGIN",
            Self::Paid => "PAID",
            Self::Private => "PRIVATE",
        }
    }
}

/// One revision of a page.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRevision {
    /// Revision number (1 for the first `PUT`).
    pub revision: u64,
    /// Who may see it.
    pub access_level: AccessLevel,
    /// The document.
    pub document: Value,
    /// When the draft was written (RFC 3339).
    pub updated_at: String,
    /// Who wrote it (token subject, or `site-token`).
    pub updated_by: String,
    /// When it was published (published revisions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Who published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
}

/// A campaign page: its draft and its published revision.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageState {
    /// The latest `PUT`.
    #[serde(default)]
    pub draft: Option<PageRevision>,
    /// What the public routes serve.
    #[serde(default)]
    pub published: Option<PageRevision>,
}

impl PageState {
    /// The highest revision number (0 for a page never written).
    pub fn revision(&self) -> u64 {
        let rev = |r: &Option<PageRevision>| r.as_ref().map_or(0, |r| r.revision);
        rev(&self.draft).max(rev(&self.published))
    }

    /// Whether the draft has changes the public does not see yet.
    pub fn unpublished_changes(&self) -> bool {
        match (&self.draft, &self.published) {
            (Some(d), Some(p)) => d.revision > p.revision,
            (Some(_), None) => true,
            _ => false,
        }
    }
}
