//! Line and column of a JSON path in a rule file, so that every diagnostic reads
//! `file:line:column: ...` and editors can jump to it.
//!
//! A small scanner walks the file's JSON text along the path (`rules[3].conditions.
//! country.in[0]`) and stops at the value the path names; when the path goes further than
//! the file (a missing field), the deepest value found stands in for it.

use std::collections::HashMap;
use std::path::PathBuf;

use edge_router::model::files::FileDiagnostic;

/// Fills in the line and column of every diagnostic that has none, reading each file once.
pub(crate) fn lines(mut diagnostics: Vec<FileDiagnostic>) -> Vec<FileDiagnostic> {
    let mut texts: HashMap<PathBuf, Option<String>> = HashMap::new();
    for d in diagnostics.iter_mut().filter(|d| d.line.is_none()) {
        let text = texts
            .entry(d.file.clone())
            .or_insert_with(|| std::fs::read_to_string(&d.file).ok());
        let Some(text) = text.as_deref() else {
            continue;
        };
        if let Some((line, column)) = find(text, &d.diagnostic.path) {
            d.line = Some(line);
            d.column = Some(column);
        }
    }
    diagnostics
}

/// One step of a JSON path.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` (optionally `$.`-prefixed) into steps.
fn steps(path: &str) -> Vec<Step> {
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Step::Key(key.to_owned()));
        }
        while let Some((index, tail)) = rest.split_once(']') {
            match index.parse() {
                Ok(i) => out.push(Step::Index(i)),
                Err(_) => out.push(Step::Key(index.to_owned())),
            }
            rest = tail.strip_prefix('[').unwrap_or(tail);
        }
    }
    out
}

/// The 1-based line and column of the value at `path` (or the deepest value on the way).
pub(crate) fn find(text: &str, path: &str) -> Option<(usize, usize)> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    scanner.skip_ws();
    let offset = scanner.descend(&steps(path))?;
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, column))
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// From the start of a value, follows `path`; the offset of the deepest value reached.
    fn descend(&mut self, path: &[Step]) -> Option<usize> {
        let start = self.at;
        let Some((step, rest)) = path.split_first() else {
            return Some(start);
        };
        let found = match (step, self.peek()) {
            (Step::Key(key), Some(b'{')) => self.member(key),
            (Step::Index(index), Some(b'[')) => self.element(*index),
            _ => None,
        };
        match found {
            Some(()) => self.descend(rest).or(Some(start)),
            None => Some(start),
        }
    }

    /// Moves to the value of `key` in the object here; `None` when it has none.
    fn member(&mut self, key: &str) -> Option<()> {
        self.at += 1;
        loop {
            self.skip_ws();
            match self.peek()? {
                b'}' => return None,
                b',' => self.at += 1,
                b'"' => {
                    let name = self.string()?;
                    self.skip_ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    self.skip_ws();
                    if name == key {
                        return Some(());
                    }
                    self.skip_value()?;
                }
                _ => return None,
            }
        }
    }

    /// Moves to element `index` of the array here; `None` when it is shorter.
    fn element(&mut self, index: usize) -> Option<()> {
        self.at += 1;
        let mut current = 0;
        loop {
            self.skip_ws();
            match self.peek()? {
                b']' => return None,
                b',' => self.at += 1,
                _ if current == index => return Some(()),
                _ => {
                    self.skip_value()?;
                    current += 1;
                }
            }
        }
    }

    /// Reads a string here, unescaped.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.at += 1;
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b'\\' => self.at += 1,
                b'"' => {
                    let raw = std::str::from_utf8(self.bytes.get(start..self.at)?).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => {}
            }
        }
        None
    }

    /// Skips the value here.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.at += 1;
                loop {
                    self.skip_ws();
                    match self.peek()? {
                        b if b == close => {
                            self.at += 1;
                            return Some(());
                        }
                        b',' | b':' => self.at += 1,
                        _ => self.skip_value()?,
                    }
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\n  \"rules\": [\n    {\"id\": \"a\", \"x\": {\"k\": [1, 2]}},\n    {\n      \"id\": \"b\",\n      \"conditions\": { \"country\": { \"in\": [\"IN\", \"india\"] } }\n    }\n  ]\n}\n";

    #[test]
    fn finds_values_along_the_path() {
        assert_eq!(find(TEXT, "rules[1].id"), Some((5, 13)));
        assert_eq!(
            find(TEXT, "rules[1].conditions.country.in[1]"),
            Some((6, 49))
        );
        assert_eq!(find(TEXT, "$.rules[0].x.k[1]"), Some((3, 32)));
        assert_eq!(find(TEXT, ""), Some((1, 1)));
    }

    #[test]
    fn a_missing_step_stands_at_the_deepest_value_found() {
        assert_eq!(find(TEXT, "rules[1].destination"), Some((4, 5)));
        assert_eq!(find(TEXT, "rules[7]"), Some((2, 12)));
        assert_eq!(find("{\"rules\": [", "rules[0].id"), Some((1, 11)));
    }

    #[test]
    fn splits_paths() {
        assert_eq!(
            steps("rules[3].conditions.query.utm_source.in[0]"),
            [
                Step::Key("rules".into()),
                Step::Index(3),
                Step::Key("conditions".into()),
                Step::Key("query".into()),
                Step::Key("utm_source".into()),
                Step::Key("in".into()),
                Step::Index(0),
            ]
        );
    }
}
