//! Catalog syntax to Tera syntax: `{{.current.name}}` reads `current.name`.

/// Catalog syntax → Tera syntax: inside `{{ }}` and `{% %}` tags, a dot that starts a variable
/// path (`.current.name`) is dropped. String literals and comments are left alone.
pub fn translate(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find(['{']) {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let close = if tail.starts_with("{{") {
            "}}"
        } else if tail.starts_with("{%") {
            "%}"
        } else if tail.starts_with("{#") {
            // Comments pass through untouched.
            let end = tail.find("#}").map(|i| i + 2).unwrap_or(tail.len());
            out.push_str(&tail[..end]);
            rest = &tail[end..];
            continue;
        } else {
            out.push('{');
            rest = &tail[1..];
            continue;
        };
        out.push_str(&tail[..2]);
        let body = &tail[2..];
        let consumed = translate_tag(body, close, &mut out);
        rest = &body[consumed..];
    }
    out.push_str(rest);
    out
}

/// Copies one tag's body up to and including `close`, dropping namespace dots; returns how
/// many bytes of `body` it consumed. `.metadata.<catalogItemId>` becomes
/// `metadata["<catalogItemId>"]` because catalog ids contain dashes.
fn translate_tag(body: &str, close: &str, out: &mut String) -> usize {
    let mut prev: Option<char> = None;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while let Some(c) = body[i..].chars().next() {
        let width = c.len_utf8();
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            prev = Some(c);
            i += width;
            continue;
        }
        if body[i..].starts_with(close) {
            out.push_str(close);
            return i + close.len();
        }
        match c {
            '"' | '\'' | '`' => {
                quote = Some(c);
                out.push(c);
            }
            '.' => {
                let starts_path = body[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|n| n.is_ascii_alphabetic() || n == '_');
                let continues = prev.is_some_and(|p| {
                    p.is_alphanumeric() || p == '_' || p == ')' || p == ']' || p == '.'
                });
                if starts_path && !continues {
                    if let Some(rest) = body[i + 1..].strip_prefix("metadata.") {
                        let id_len = rest
                            .find(|n: char| !(n.is_ascii_alphanumeric() || n == '-' || n == '_'))
                            .unwrap_or(rest.len());
                        if id_len > 0 {
                            out.push_str("metadata[\"");
                            out.push_str(&rest[..id_len]);
                            out.push_str("\"]");
                            i += 1 + "metadata.".len() + id_len;
                            prev = Some(']');
                            continue;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
        prev = Some(c);
        i += width;
    }
    body.len()
}
