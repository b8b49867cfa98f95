//! URL templates (the `url` of a `rest-api` or `webhook` item). The scheme, the host and the
//! start of the path are the catalog author's literal text, so no value chooses where a call
//! goes; each value the template writes is percent-encoded as one path segment, one query
//! value or fragment text, so `/`, `..`, `?` and `#` typed into a form field stay data. A value
//! that no encoding keeps inside its segment is refused instead of sent: a `/` or `\` in a
//! path value (servers decode `%2F`), or an empty one that leaves its segment empty
//! (`/items/` is another resource than `/items/x`). The finished URL is checked once more ([`check_request_path`]): no `.` or
//! `..` segment, plain or encoded, and no encoded slash.

use super::TemplateError;
use super::escape::{Piece, pieces};

/// Refuses a URL template whose scheme or host is not literal: the text before the first
/// template tag must be `https://host/`, `https://host?` or `https://host#` (or the whole
/// URL is literal).
pub(super) fn check_source(source: &str) -> Result<(), TemplateError> {
    let first = ["{{", "{%", "{#"]
        .iter()
        .filter_map(|t| source.find(t))
        .min();
    let Some(first) = first else {
        return Ok(());
    };
    let prefix = source[..first].trim_start();
    let rest = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"));
    let literal_host = rest.is_some_and(|r| {
        r.find(['/', '?', '#'])
            .is_some_and(|end| end > 0 && !r[..end].contains('@'))
    });
    if literal_host {
        Ok(())
    } else {
        Err(TemplateError::NotAllowed(
            "a template in a URL's scheme or host (write `https://host/` literally before the first `{{`; values fill path segments and query values)".into(),
        ))
    }
}

/// Where in a URL the text being written is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Scheme,
    Host,
    Path,
    Query,
    Fragment,
}

impl Part {
    /// The part after writing `c`, with `written` the text so far (including `c`).
    fn after(self, c: char, written: &str) -> Self {
        match (self, c) {
            (Self::Scheme, _) if written.ends_with("://") => Self::Host,
            (Self::Host, '/') => Self::Path,
            (Self::Host | Self::Path, '?') => Self::Query,
            (Self::Host | Self::Path | Self::Query, '#') => Self::Fragment,
            (part, _) => part,
        }
    }
}

/// The finished URL: each value encoded for the part it landed in.
pub(super) fn finish(text: &str) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut part = Part::Scheme;
    let pieces = pieces(text)?;
    for (i, piece) in pieces.iter().enumerate() {
        // The text right after this piece, to see whether an empty value leaves a segment empty.
        let next = pieces.get(i + 1).map_or("", |p| match p {
            Piece::Literal(s) => s,
            Piece::Value(s) | Piece::Json(s) => s,
        });
        match piece {
            Piece::Literal(s) => {
                for c in s.chars() {
                    out.push(c);
                    part = part.after(c, &out);
                }
            }
            Piece::Value(v) | Piece::Json(v) => match part {
                Part::Scheme | Part::Host => {
                    return Err(TemplateError::Render(
                        "a value would be written into the URL's scheme or host".into(),
                    ));
                }
                Part::Path
                    if v.is_empty()
                        && out.ends_with('/')
                        && (next.is_empty() || next.starts_with(['/', '?', '#'])) =>
                {
                    return Err(TemplateError::Render(
                        "a value written into the URL path is empty, leaving its segment empty"
                            .into(),
                    ));
                }
                Part::Path if v.contains(['/', '\\']) => {
                    return Err(TemplateError::Render(
                        "a value written into the URL path contains `/` or `\\`: a value fills one path segment".into(),
                    ));
                }
                _ => encode_component_into(v, &mut out),
            },
        }
    }
    check_request_path(&out).map_err(TemplateError::Render)?;
    Ok(out)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_component_into(s, &mut out);
    out
}

fn encode_component_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Refuses a URL whose path a server could resolve elsewhere than it reads: a `.` or `..`
/// segment (also as `%2e`), an encoded slash or backslash, or a raw backslash.
pub fn check_request_path(url: &str) -> Result<(), String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let Some(start) = after_scheme.find(['/', '\\']) else {
        return Ok(());
    };
    // The path ends at the query or fragment (a `?` inside the host part is not reached).
    let tail = &after_scheme[start..];
    if after_scheme[..start].contains(['?', '#']) {
        return Ok(());
    }
    let path = &tail[..tail.find(['?', '#']).unwrap_or(tail.len())];
    if path.contains('\\') {
        return Err("the URL path contains `\\`".into());
    }
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Err("the URL path contains an encoded slash".into());
    }
    if lower
        .split('/')
        .map(|seg| seg.replace("%2e", "."))
        .any(|seg| seg == "." || seg == "..")
    {
        return Err("the URL path contains a `.` or `..` segment".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::escape::{CLOSE, OPEN};

    fn v(s: &str) -> String {
        format!("{OPEN}{s}{CLOSE}")
    }

    #[test]
    fn the_host_is_literal() {
        for ok in [
            "https://deploy.example.com/api/{{.current.x}}",
            "https://h.example.com?q={{.current.x}}",
            "http://127.0.0.1:8080/{% if .current.x %}a{% endif %}",
            "https://h.example.com/fixed",
        ] {
            assert_eq!(check_source(ok), Ok(()), "{ok}");
        }
        for bad in [
            "{{.current.url}}",
            "https://{{.current.host}}/x",
            "https://h.example.com{{.current.path}}",
            "https://h.example.com.{{.current.x}}/",
            "https://user@{{.current.x}}/",
            "https://a@h.example.com/{{.current.x}}",
            "{% if .current.x %}https://a.example.com/{% endif %}",
            "{{ '' }}https://h.example.com/",
        ] {
            assert!(
                matches!(check_source(bad), Err(TemplateError::NotAllowed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn values_are_encoded_for_their_part() {
        let text = format!(
            "https://d.example.com/ns/{}/svc/{}?a={}&b=1#{}",
            v("team a"),
            v("app?x=1#"),
            v("1&admin=true"),
            v("f/g")
        );
        assert_eq!(
            finish(&text).as_deref(),
            Ok("https://d.example.com/ns/team%20a/svc/app%3Fx%3D1%23?a=1%26admin%3Dtrue&b=1#f%2Fg")
        );
    }

    #[test]
    fn values_that_leave_their_segment_are_refused() {
        for bad in ["other-team/services/their-app#", "..", ".", "", "a\\b"] {
            let text = format!("https://d.example.com/ns/{}/svc", v(bad));
            assert!(finish(&text).is_err(), "{bad:?}");
        }
        // Typed-in encodings stay text: `%` is encoded, so no `%2e%2e` or `%2F` reaches the path.
        let text = format!("https://d.example.com/ns/{}/svc", v("%2e%2e%2F"));
        assert_eq!(
            finish(&text).as_deref(),
            Ok("https://d.example.com/ns/%252e%252e%252F/svc")
        );
        let text = format!("https://{}/x", v("evil.example"));
        assert!(finish(&text).is_err());
    }

    #[test]
    fn dot_segments_and_encoded_slashes_never_reach_a_path() {
        for bad in [
            "https://h.example.com/a/../b",
            "https://h.example.com/a/%2E%2e/b",
            "https://h.example.com/a/./b",
            "https://h.example.com/a%2Fb",
            "https://h.example.com/a%5cb",
            "https://h.example.com/a\\b",
            "https://h.example.com/..",
        ] {
            assert!(check_request_path(bad).is_err(), "{bad}");
        }
        for ok in [
            "https://h.example.com/a/b.c/..d?x=../..#..",
            "https://h.example.com",
            "https://h.example.com?x=%2F",
        ] {
            assert_eq!(check_request_path(ok), Ok(()), "{ok}");
        }
    }
}
