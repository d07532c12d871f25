//! What KV holds under [`snapshot_key`] for one handle, and what the hot path reads: a
//! published [`Snapshot`] or a [`Tombstone`], one KV read per handle per cache period.
//!
//! A snapshot is the validated configuration plus its [`Revision`] and publication time, as
//! JSON. Loading it compiles it again (a fraction of a millisecond for a realistic
//! handle); a value that does not parse or compile is *corrupt*, and the edge then keeps
//! the last good one it had. A tombstone is an operator's deliberate takedown of the
//! handle (`router takedown`): visitors get the not-found page.
//!
//! **The edge form.** What a publisher stores is the snapshot's JSON followed by its *edge
//! form*: the rule set compiled as the edge compiles it ([`compile_published`]), encoded
//! with `postcard` (a compact binary of the same serde types), then its length (`u32`,
//! little-endian) and [`EDGE_MAGIC`]. An isolate's first visit decodes that instead of
//! parsing 256 KB of JSON and compiling 1,000 rules (in cold wasm about 20 ms against a
//! few). The JSON stays first and whole: the API, the CLI and people read it
//! ([`split`] takes the two apart), and it is the record; the edge trusts a usable edge
//! form to say what its JSON says, as one publisher writes both in one value (a
//! tombstone never has one: [`Tombstone::to_json`] is all of it). A value without an edge form
//! (a plain JSON snapshot, as tests and older publishers write), one of another
//! [`EDGE_LAYOUT`] (written by a build whose compiled types differ) or one that does not
//! decode is loaded from its JSON, as before. `0xFF` never occurs in UTF-8 text, so no
//! JSON value is taken for one with an edge form.
//!
//! **Revisions** order what a handle's key has held: `(generation, version)`, compared
//! generation first. `version` is bumped by every publication; `generation` only by an
//! operator's deliberate step back (publishing older content under its old, lower
//! version: `router push --local --generation N`). An isolate never replaces what it holds
//! with something of a lower revision: that is a stale KV read, not a decision
//! ([`crate::visit::cache`] has the whole policy). Snapshots written before generations
//! existed have none, which reads as generation 0.

use serde::{Deserialize, Serialize};

use crate::engine::compile::compile_published;
use crate::engine::ruleset::RuleSet;
use crate::model::config::HandleConfig;
use crate::model::diag::CompileError;

/// The snapshot format this build reads and writes.
pub const FORMAT: u32 = 1;

/// The layout of the edge form: the shape of the compiled types it carries. Change it
/// whenever one of them changes (`tests/edge_form.rs` decodes a committed edge form and
/// fails when the types no longer read it), so that values written by an older build are
/// loaded from their JSON instead of misread.
pub const EDGE_LAYOUT: u32 = 2;

/// The last four bytes of a value with an edge form.
pub const EDGE_MAGIC: [u8; 4] = [0xFF, b'E', b'D', b'G'];

/// The edge form's head: what [`peek`] reads without decoding the rule set.
#[derive(Serialize, Deserialize)]
struct EdgeHead {
    layout: u32,
    generation: u64,
    version: u64,
}

/// The edge form's body, after its head.
#[derive(Serialize, Deserialize)]
struct EdgeBody {
    published_at: String,
    ruleset: RuleSet,
}

/// A stored value's JSON and its edge form, if it has one (see the module docs).
pub fn split(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    let Some(rest) = bytes.strip_suffix(&EDGE_MAGIC) else {
        return (bytes, None);
    };
    let Some((rest, len)) = rest.split_last_chunk::<4>() else {
        return (bytes, None);
    };
    let len = u32::from_le_bytes(*len) as usize;
    match rest.len().checked_sub(len) {
        Some(at) => {
            let (json, edge) = rest.split_at(at);
            (json, Some(edge))
        }
        None => (bytes, None),
    }
}

/// A value of `json` followed by `edge` as its edge form: what [`split`] takes apart.
pub fn join(json: &[u8], edge: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + edge.len() + 8);
    out.extend_from_slice(json);
    out.extend_from_slice(edge);
    // An edge form is far below 4 GiB (KV values are at most 25 MiB).
    out.extend_from_slice(&u32::try_from(edge.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&EDGE_MAGIC);
    out
}

/// The head of an edge form of this build's [`EDGE_LAYOUT`], and the rest of it.
fn edge_head(edge: &[u8]) -> Option<(EdgeHead, &[u8])> {
    postcard::take_from_bytes::<EdgeHead>(edge)
        .ok()
        .filter(|(head, _)| head.layout == EDGE_LAYOUT)
}

/// The snapshot an edge form holds, when it is of this build's layout, decodes whole,
/// names `handle` and refers only to rules, campaigns and templates it has; else `None`
/// (the caller reads the JSON).
fn decode_edge(handle: &str, edge: &[u8]) -> Option<Loaded> {
    let (head, body) = edge_head(edge)?;
    let body: EdgeBody = postcard::from_bytes(body).ok()?;
    (body.ruleset.handle == handle && body.ruleset.indices_in_range()).then(|| Loaded {
        version: head.version,
        generation: head.generation,
        published_at: body.published_at,
        ruleset: body.ruleset,
    })
}

/// The KV key of a handle's snapshot.
pub fn snapshot_key(handle: &str) -> String {
    format!("snapshot:{handle}")
}

/// Where a published value stands in its handle's history: generation first, then version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    /// Bumped only by a deliberate step back to older content (0 until then).
    pub generation: u64,
    /// Bumped by every publication.
    pub version: u64,
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "version {}", self.version)?;
        if self.generation > 0 {
            write!(f, " of generation {}", self.generation)?;
        }
        Ok(())
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A published snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// See [`Revision`]; absent means 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u64,
    /// Monotonic version, bumped by every publication.
    pub version: u64,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// The configuration.
    pub config: HandleConfig,
}

/// A deliberate takedown of a handle, stored under its snapshot key in place of a
/// snapshot: `{"format":1,"tombstone":true,"handle":"gharart","version":…,…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// Always `true`: what tells a tombstone from a snapshot.
    pub tombstone: bool,
    /// The handle taken down.
    pub handle: String,
    /// See [`Revision`]; absent means 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u64,
    /// Above the version it replaced, so isolates holding that one honour it.
    pub version: u64,
    /// When it was written (RFC 3339).
    pub published_at: String,
    /// Why, for whoever reads KV later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Tombstone {
    /// A tombstone for `handle` at `revision`.
    pub fn new(handle: &str, revision: Revision, published_at: String) -> Self {
        Tombstone {
            format: FORMAT,
            tombstone: true,
            handle: handle.to_owned(),
            generation: revision.generation,
            version: revision.version,
            published_at,
            reason: None,
        }
    }

    /// Its revision.
    pub fn revision(&self) -> Revision {
        Revision {
            generation: self.generation,
            version: self.version,
        }
    }

    /// Serialises for KV.
    ///
    /// # Errors
    /// Only if serde cannot serialise it (a bug).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// Why a value could not be loaded.
#[derive(Debug)]
pub enum SnapshotError {
    /// Not JSON of the snapshot's (or the tombstone's) shape.
    Parse(serde_json::Error),
    /// A format this build does not read.
    Format(u32),
    /// Parsed, but the configuration does not compile.
    Compile(CompileError),
    /// Stored under one handle, naming another.
    WrongHandle(String),
    /// The value could not be written (a bug).
    Encode(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Parse(e) => write!(f, "snapshot is not valid JSON of the snapshot shape: {e}"),
            Self::Format(v) => write!(f, "snapshot format {v} is not {FORMAT}"),
            Self::Compile(e) => write!(f, "snapshot does not compile: {e}"),
            Self::WrongHandle(h) => write!(f, "snapshot belongs to handle {h:?}"),
            Self::Encode(e) => write!(f, "the snapshot cannot be written: {e}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// A loaded snapshot: its revision and compiled rule set.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Version.
    pub version: u64,
    /// Generation (see [`Revision`]).
    pub generation: u64,
    /// Publication time.
    pub published_at: String,
    /// The compiled rule set.
    pub ruleset: RuleSet,
}

impl Loaded {
    /// Its revision.
    pub fn revision(&self) -> Revision {
        Revision {
            generation: self.generation,
            version: self.version,
        }
    }
}

impl Snapshot {
    /// Wraps a configuration as version `version` of generation 0.
    pub fn new(config: HandleConfig, version: u64, published_at: String) -> Self {
        Snapshot {
            format: FORMAT,
            generation: 0,
            version,
            published_at,
            config,
        }
    }

    /// The same snapshot in generation `generation`.
    pub fn in_generation(self, generation: u64) -> Self {
        Snapshot { generation, ..self }
    }

    /// Its revision.
    pub fn revision(&self) -> Revision {
        Revision {
            generation: self.generation,
            version: self.version,
        }
    }

    /// Serialises as JSON (no edge form).
    ///
    /// # Errors
    /// Only if serde cannot serialise the configuration (a bug, never a client's fault).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// What a publisher stores in KV: the JSON and the edge form (see the module docs). A
    /// configuration that does not compile gets no edge form (no isolate would serve it).
    ///
    /// # Errors
    /// Only if serde cannot serialise it (a bug, never a client's fault).
    pub fn to_stored(&self) -> Result<Vec<u8>, SnapshotError> {
        let json = self
            .to_json()
            .map_err(|e| SnapshotError::Encode(e.to_string()))?
            .into_bytes();
        let Ok(compiled) = compile_published(&self.config) else {
            return Ok(json);
        };
        let head = EdgeHead {
            layout: EDGE_LAYOUT,
            generation: self.generation,
            version: self.version,
        };
        let body = EdgeBody {
            published_at: self.published_at.clone(),
            ruleset: compiled.ruleset,
        };
        let edge = postcard::to_allocvec(&head)
            .and_then(|edge| postcard::to_extend(&body, edge))
            .map_err(|e| SnapshotError::Encode(e.to_string()))?;
        Ok(join(&json, &edge))
    }
}

/// What a stored value says about itself without being built: its revision and whether it
/// is a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its revision.
    pub revision: Revision,
    /// Whether it is a tombstone.
    pub tombstone: bool,
}

/// The head of a stored value, without building it (the hot path checks it before
/// compiling: an unchanged snapshot re-read after its TTL is not compiled again).
pub fn peek(bytes: &[u8]) -> Option<Head> {
    let (bytes, edge) = split(bytes);
    if let Some((head, _)) = edge.and_then(edge_head) {
        return Some(Head {
            revision: Revision {
                generation: head.generation,
                version: head.version,
            },
            tombstone: false,
        });
    }
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        generation: u64,
        version: u64,
        #[serde(default)]
        tombstone: bool,
    }
    serde_json::from_slice::<Raw>(bytes).ok().map(|raw| Head {
        revision: Revision {
            generation: raw.generation,
            version: raw.version,
        },
        tombstone: raw.tombstone,
    })
}

/// The version of a stored value, without building it.
pub fn peek_version(bytes: &[u8]) -> Option<u64> {
    peek(bytes).map(|head| head.revision.version)
}

/// A stored value, parsed but not compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A snapshot.
    Snapshot(Box<Snapshot>),
    /// A takedown.
    Tombstone(Tombstone),
}

/// Parses a value stored for `handle`, without compiling it.
///
/// # Errors
/// [`SnapshotError`] for a value of neither shape, another format, or another handle.
pub fn parse(handle: &str, bytes: &[u8]) -> Result<Stored, SnapshotError> {
    parse_peeked(handle, bytes, None)
}

/// [`parse`] with the value's [`peek`] when one was taken already (the edge peeks a value
/// re-read over one it holds, to skip building an unchanged one). Without it the value is
/// read as a snapshot and, failing that, as a tombstone: both shapes deny unknown fields,
/// so a tombstone fails as a snapshot at its second field and a snapshot never reads as a
/// tombstone, and no value is scanned twice (a 256 KB snapshot's peek costs an isolate's
/// first visit about 2 ms of cold wasm).
///
/// # Errors
/// As [`parse`]; for a value of neither shape, why it is not a snapshot.
pub fn parse_peeked(
    handle: &str,
    bytes: &[u8],
    head: Option<Head>,
) -> Result<Stored, SnapshotError> {
    let (bytes, _) = split(bytes);
    let tombstone = |bytes| {
        let t: Tombstone = serde_json::from_slice(bytes)?;
        Ok::<_, serde_json::Error>((t.format, Stored::Tombstone(t)))
    };
    let snapshot = |bytes| {
        let s: Snapshot = serde_json::from_slice(bytes)?;
        Ok::<_, serde_json::Error>((s.format, Stored::Snapshot(Box::new(s))))
    };
    let (format, named) = match head {
        Some(head) if head.tombstone => tombstone(bytes).map_err(SnapshotError::Parse)?,
        Some(_) => snapshot(bytes).map_err(SnapshotError::Parse)?,
        None => match snapshot(bytes) {
            Ok(read) => read,
            Err(error) => tombstone(bytes).map_err(|_| SnapshotError::Parse(error))?,
        },
    };
    if format != FORMAT {
        return Err(SnapshotError::Format(format));
    }
    let owner = match &named {
        Stored::Snapshot(s) => &s.config.handle,
        Stored::Tombstone(t) => &t.handle,
    };
    if owner != handle {
        return Err(SnapshotError::WrongHandle(owner.clone()));
    }
    Ok(named)
}

/// A stored value, built.
#[derive(Debug, Clone)]
pub enum Published {
    /// A snapshot to serve.
    Live(Box<Loaded>),
    /// A takedown.
    TakenDown(Tombstone),
}

/// Parses and, for a snapshot, compiles a value read for `handle`.
///
/// # Errors
/// [`SnapshotError`] when it is corrupt in any way.
pub fn load(handle: &str, bytes: &[u8]) -> Result<Published, SnapshotError> {
    load_peeked(handle, bytes, None)
}

/// [`load`] with the value's [`peek`] when one was taken already (see [`parse_peeked`]).
///
/// # Errors
/// As [`load`].
pub fn load_peeked(
    handle: &str,
    bytes: &[u8],
    head: Option<Head>,
) -> Result<Published, SnapshotError> {
    if let Some(loaded) = split(bytes).1.and_then(|edge| decode_edge(handle, edge)) {
        return Ok(Published::Live(Box::new(loaded)));
    }
    match parse_peeked(handle, bytes, head)? {
        Stored::Tombstone(t) => Ok(Published::TakenDown(t)),
        Stored::Snapshot(snapshot) => {
            let compiled = compile_published(&snapshot.config).map_err(SnapshotError::Compile)?;
            Ok(Published::Live(Box::new(Loaded {
                version: snapshot.version,
                generation: snapshot.generation,
                published_at: snapshot.published_at,
                ruleset: compiled.ruleset,
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(version: u64) -> Snapshot {
        let config = HandleConfig {
            handle: "h".into(),
            ..HandleConfig::default()
        };
        Snapshot::new(config, version, "2026-11-22T00:00:00Z".into())
    }

    /// The festive rules, as version 7 of generation 2.
    fn festive() -> Snapshot {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
        let (config, _) = crate::model::files::load_dir(&dir).unwrap();
        Snapshot::new(config, 7, "2026-11-30T00:00:00Z".into()).in_generation(2)
    }

    fn live(result: Result<Published, SnapshotError>) -> Box<Loaded> {
        match result {
            Ok(Published::Live(loaded)) => loaded,
            other => panic!("not a live snapshot: {other:?}"),
        }
    }

    #[test]
    fn a_stored_value_is_its_json_then_its_edge_form() {
        let snapshot = festive();
        let stored = snapshot.to_stored().unwrap();
        let (json, edge) = split(&stored);
        assert_eq!(json, snapshot.to_json().unwrap().as_bytes());
        assert!(edge.is_some_and(|e| !e.is_empty()));
        // Readers of the JSON (the API, the CLI) read it as before.
        assert_eq!(
            parse("gharart", &stored).unwrap(),
            Stored::Snapshot(Box::new(snapshot.clone()))
        );
        let head = Head {
            revision: Revision {
                generation: 2,
                version: 7,
            },
            tombstone: false,
        };
        assert_eq!((peek(&stored), peek(json)), (Some(head), Some(head)));
        // A value of JSON alone is all JSON.
        assert_eq!(split(json), (json, None));
    }

    #[test]
    fn the_edge_form_alone_builds_the_rule_set() {
        let snapshot = festive();
        let stored = snapshot.to_stored().unwrap();
        let (_, edge) = split(&stored);
        // Its JSON broken, the value still loads: the edge form built it.
        let from_edge = live(load("gharart", &join(b"{", edge.unwrap())));
        let from_json = live(load("gharart", snapshot.to_json().unwrap().as_bytes()));
        assert_eq!(
            (from_edge.revision(), &from_edge.published_at),
            (from_json.revision(), &from_json.published_at)
        );
        let rules = |l: &Loaded| {
            l.ruleset
                .rules
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        r.priority,
                        r.enabled,
                        r.destination.as_ref().map(|t| t.as_str().to_owned()),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(rules(&from_edge), rules(&from_json));
        let mut entries: Vec<_> = from_edge.ruleset.entries.keys().collect();
        entries.sort();
        let mut expected: Vec<_> = from_json.ruleset.entries.keys().collect();
        expected.sort();
        assert_eq!(entries, expected);
    }

    #[test]
    fn an_edge_form_it_cannot_use_leaves_the_json_to_count() {
        let snapshot = festive();
        let stored = snapshot.to_stored().unwrap();
        let (json, edge) = split(&stored);
        let edge = edge.unwrap();
        let mut other_layout = edge.to_vec();
        other_layout[0] += 1; // the layout, a one-byte varint
        let mut bad_index = live(load("gharart", &stored)).ruleset;
        bad_index.default_template = Some(bad_index.templates.len());
        let head = EdgeHead {
            layout: EDGE_LAYOUT,
            generation: 2,
            version: 7,
        };
        let body = EdgeBody {
            published_at: String::new(),
            ruleset: bad_index,
        };
        let bad_index = postcard::to_extend(&body, postcard::to_allocvec(&head).unwrap()).unwrap();
        for unusable in [
            other_layout,
            edge[..edge.len() / 2].to_vec(),
            Vec::new(),
            bad_index,
        ] {
            assert_eq!(live(load("gharart", &join(json, &unusable))).version, 7);
            assert!(matches!(
                load("gharart", &join(b"{", &unusable)),
                Err(SnapshotError::Parse(_))
            ));
        }
        // Under another handle's key: refused, as its JSON says.
        assert!(matches!(
            load("other", &stored),
            Err(SnapshotError::WrongHandle(h)) if h == "gharart"
        ));
        // A length beyond the value: no edge form, and not JSON either.
        let mut long = stored.clone();
        let n = long.len();
        long[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            load("gharart", &long),
            Err(SnapshotError::Parse(_))
        ));
    }

    #[test]
    fn peeks_the_head_without_the_rest() {
        let json = snapshot(42).to_json().unwrap();
        assert_eq!(peek_version(json.as_bytes()), Some(42));
        assert_eq!(peek_version(b"{corrupt"), None);
        assert!(matches!(
            load("h", json.as_bytes()),
            Ok(Published::Live(l)) if l.revision() == Revision { generation: 0, version: 42 }
        ));
        assert!(matches!(
            load("other", json.as_bytes()),
            Err(SnapshotError::WrongHandle(_))
        ));
    }

    #[test]
    fn generation_zero_is_not_written_so_older_builds_still_read_the_snapshot() {
        let json = snapshot(7).to_json().unwrap();
        assert!(!json.contains("generation"), "{json}");
        let json = snapshot(7).in_generation(2).to_json().unwrap();
        let head = peek(json.as_bytes()).unwrap();
        assert_eq!(
            head.revision,
            Revision {
                generation: 2,
                version: 7
            }
        );
        assert!(!head.tombstone);
    }

    #[test]
    fn revisions_order_by_generation_then_version() {
        let r = |generation, version| Revision {
            generation,
            version,
        };
        assert!(r(0, 9) < r(0, 10));
        assert!(
            r(1, 5) > r(0, 1_795_000_000),
            "a step back wins by its generation"
        );
        assert_eq!(r(1, 5).to_string(), "version 5 of generation 1");
        assert_eq!(r(0, 5).to_string(), "version 5");
    }

    /// Unpeeked (an isolate's first read), each shape reads as itself, a value with parts
    /// of both reads as neither, and the takedown wins however the value was read.
    #[test]
    fn either_shape_reads_as_itself_without_a_peek() {
        let snap = snapshot(5).to_json().unwrap();
        let tomb = Tombstone::new(
            "h",
            Revision {
                generation: 0,
                version: 6,
            },
            "2026-11-22T00:00:00Z".into(),
        )
        .to_json()
        .unwrap();
        let peeked = |json: &str| peek(json.as_bytes());
        for head in [None, peeked(&snap)] {
            assert!(matches!(
                parse_peeked("h", snap.as_bytes(), head),
                Ok(Stored::Snapshot(s)) if s.version == 5
            ));
        }
        for head in [None, peeked(&tomb)] {
            assert!(matches!(
                load_peeked("h", tomb.as_bytes(), head),
                Ok(Published::TakenDown(t)) if t.version == 6
            ));
        }
        // A snapshot's fields with a tombstone's flag: neither shape, so corrupt (never served).
        let both = snap.replacen('{', r#"{"tombstone":true,"#, 1);
        for head in [None, peeked(&both)] {
            assert!(matches!(
                parse_peeked("h", both.as_bytes(), head),
                Err(SnapshotError::Parse(_))
            ));
        }
        let error = parse("h", b"{corrupt").unwrap_err();
        assert!(error.to_string().contains("snapshot shape"), "{error}");
    }

    #[test]
    fn tombstones_parse_and_name_their_handle() {
        let mut t = Tombstone::new(
            "h",
            Revision {
                generation: 0,
                version: 9,
            },
            "2026-11-22T00:00:00Z".into(),
        );
        t.reason = Some("abuse report 42".into());
        let json = t.to_json().unwrap();
        assert_eq!(
            peek(json.as_bytes()),
            Some(Head {
                revision: t.revision(),
                tombstone: true
            })
        );
        assert!(matches!(load("h", json.as_bytes()), Ok(Published::TakenDown(got)) if got == t));
        assert!(matches!(
            load("other", json.as_bytes()),
            Err(SnapshotError::WrongHandle(h)) if h == "h"
        ));
        let wrong_format = json.replace("\"format\":1", "\"format\":2");
        assert!(matches!(
            load("h", wrong_format.as_bytes()),
            Err(SnapshotError::Format(2))
        ));
        let extra = json.replace("\"tombstone\":true", "\"tombstone\":true,\"config\":{}");
        assert!(matches!(
            load("h", extra.as_bytes()),
            Err(SnapshotError::Parse(_))
        ));
    }
}
