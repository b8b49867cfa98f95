//! Parsers of textual values shared by forms, catalog validation and the clock: dates,
//! date-times, emails, URLs, and field patterns compiled once per process.

use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The most field patterns kept compiled, and the longest pattern kept: the catalog's own
/// are a few dozen, but `/tools/validate` compiles whatever a caller sends.
const CACHED_PATTERNS: usize = 256;
const CACHED_PATTERN_LENGTH: usize = 512;
/// The largest a compiled field pattern may be (256 cached at most: 64 MiB in the worst case).
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

fn pattern_cache() -> &'static Mutex<HashMap<String, Arc<Regex>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Compiles a field pattern once per process: forms are validated on every submission. The
/// cache is bounded in count and pattern length, each pattern in compiled size.
pub fn compiled_pattern(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    let cache = pattern_cache();
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Arc::new(
        regex::RegexBuilder::new(pattern)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()?,
    );
    if let Ok(mut c) = cache.lock() {
        if c.len() < CACHED_PATTERNS && pattern.len() <= CACHED_PATTERN_LENGTH {
            c.insert(pattern.to_string(), re.clone());
        }
    }
    Ok(re)
}

pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

pub fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// `YYYY-MM-DD`, a real calendar day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// RFC 3339 date-time: `2026-11-23T09:30:00Z`, `2026-11-23T09:30:00.5+01:00`.
pub fn is_datetime(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$",
        )
        .ok()
    });
    let Some(caps) = re.as_ref().and_then(|re| re.captures(s)) else {
        return false;
    };
    let n = |i: usize| -> u32 {
        caps.get(i)
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(0)
    };
    is_date(&caps[1]) && n(2) < 24 && n(3) < 60 && n(4) < 61 && n(7) < 24 && n(8) < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_cache_is_bounded() {
        for i in 0..(CACHED_PATTERNS + 50) {
            compiled_pattern(&format!("^p{i}$")).expect("compiles");
        }
        let long = format!("^{}$", "a".repeat(CACHED_PATTERN_LENGTH));
        compiled_pattern(&long).expect("compiles");
        let cache = pattern_cache().lock().expect("lock");
        assert!(cache.len() <= CACHED_PATTERNS);
        assert!(!cache.contains_key(&long));
        drop(cache);
        // A pattern whose compiled form is too large is refused, not compiled.
        assert!(compiled_pattern("(?:a{1000}){1000}").is_err());
    }
}
