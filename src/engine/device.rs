//! Device facts as rules see them: a coarse category, OS and browser, and which input
//! decided them. Classifying a request's headers is the visit's
//! (`crate::visit::user_agent`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A coarse device category, as rule conditions name it.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceCategory {
    /// Desktop and laptop browsers.
    Desktop,
    /// Phones.
    Mobile,
    /// Tablets.
    Tablet,
    /// Search engines, link previewers and other bots woothee recognises.
    Crawler,
    /// Consoles, TVs, feed readers and anything unrecognised.
    Other,
}

impl DeviceCategory {
    /// Every category, in a stable order (used by the route matrix).
    pub const ALL: [DeviceCategory; 5] = [
        Self::Desktop,
        Self::Mobile,
        Self::Tablet,
        Self::Crawler,
        Self::Other,
    ];

    /// The category's name in rule files and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Crawler => "crawler",
            Self::Other => "other",
        }
    }

    /// Parses a category name (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for DeviceCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which input decided the device facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSource {
    /// The User-Agent string, parsed by woothee.
    UserAgent,
    /// User-Agent Client Hints overrode what the User-Agent said.
    ClientHints,
    /// No User-Agent at all.
    Missing,
}

/// What the router knows about the visitor's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Coarse category.
    pub category: DeviceCategory,
    /// Normalised OS name (`windows`, `macos`, `ios`, `android`, `linux`, `chromeos`, ...).
    pub os: Option<String>,
    /// Normalised browser name (`chrome`, `safari`, `firefox`, `edge`, ...).
    pub browser: Option<String>,
    /// Which input won.
    pub source: DeviceSource,
}

impl Default for DeviceFacts {
    fn default() -> Self {
        DeviceFacts {
            category: DeviceCategory::Other,
            os: None,
            browser: None,
            source: DeviceSource::Missing,
        }
    }
}
