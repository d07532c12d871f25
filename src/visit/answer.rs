//! An HTTP answer as plain data (status, headers, body), built in one piece so the edge
//! renders it into a `Response` without deciding anything. Every answer carries
//! `X-Request-Id` and `Cache-Control: private, no-store`; the worker's own pages are
//! plain, self-contained HTML that links nowhere.

/// Headers every response of the worker carries, visitor or API.
pub fn base_headers(request_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Cache-Control", "private, no-store".to_owned()),
        ("X-Request-Id", request_id.to_owned()),
        ("X-Content-Type-Options", "nosniff".to_owned()),
        (
            "Referrer-Policy",
            "strict-origin-when-cross-origin".to_owned(),
        ),
    ]
}

/// A status, headers and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers in order (names as written).
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for a redirect).
    pub body: Vec<u8>,
}

/// One of the worker's own pages.
#[derive(Debug, Clone, Copy)]
pub struct Body<'a> {
    title: &'static str,
    message: &'static str,
    request_id: &'a str,
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>TITLE</title>
<style>body{font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}small{color:#555}</style>
</head><body><h1>TITLE</h1><p>MESSAGE</p><p><small>Reference: RID</small></p></body></html>
"#;

impl<'a> Body<'a> {
    /// A known entry with nothing routable.
    pub fn safe_page(request_id: &'a str) -> Self {
        Body {
            title: "Nothing to show here yet",
            message: "This link has no destination we can send you to right now.",
            request_id,
        }
    }

    /// No such handle, entry or path.
    pub fn not_found(request_id: &'a str) -> Self {
        Body {
            title: "Link not found",
            message: "This link does not exist or is no longer active.",
            request_id,
        }
    }

    /// No snapshot could be read and no fallback is configured.
    pub fn unavailable(request_id: &'a str) -> Self {
        Body {
            title: "Back soon",
            message: "This link is briefly unavailable. Please try again in a minute.",
            request_id,
        }
    }

    /// The page's HTML. The request id is hex the worker minted; titles and messages
    /// are fixed text, so nothing needs escaping.
    pub fn html(&self) -> String {
        PAGE.replace("TITLE", self.title)
            .replace("MESSAGE", self.message)
            .replace("RID", self.request_id)
    }
}

impl Answer {
    /// An empty 200 with the base headers.
    pub fn new(request_id: &str) -> Self {
        Answer {
            status: 200,
            headers: base_headers(request_id),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(&mut self, name: &'static str, value: impl Into<String>) {
        self.headers.push((name, value.into()));
    }

    /// The value of a header, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A 302 to `location`.
    pub fn redirect(mut self, location: &str) -> Self {
        self.status = 302;
        self.header("Location", location);
        self
    }

    /// A JSON body.
    pub fn json(mut self, status: u16, body: Vec<u8>) -> Self {
        self.status = status;
        self.header("Content-Type", "application/json; charset=utf-8");
        self.body = body;
        self
    }

    /// One of the worker's own pages.
    pub fn page(mut self, status: u16, page: &Body<'_>) -> Self {
        self.status = status;
        self.header("Content-Type", "text/html; charset=utf-8");
        self.header("X-Robots-Tag", "noindex");
        self.body = page.html().into_bytes();
        self
    }

    /// A plain-text body.
    pub fn text(mut self, status: u16, body: &str) -> Self {
        self.status = status;
        self.header("Content-Type", "text/plain; charset=utf-8");
        self.body = body.as_bytes().to_vec();
        self
    }
}
