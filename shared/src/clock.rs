//! Wall-clock time as the RFC 3339 strings PAO stores and shows (`2026-11-23T09:30:00Z`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in UTC, to the second.
pub fn now_rfc3339() -> String {
    rfc3339(now_epoch())
}

/// Seconds since the Unix epoch.
pub fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One instant in both forms PAO stores: RFC 3339 for people, epoch seconds for TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    pub rfc3339: String,
    pub epoch: u64,
}

impl Now {
    pub fn current() -> Self {
        Self::at(now_epoch())
    }

    pub fn at(epoch: u64) -> Self {
        Self {
            rfc3339: rfc3339(epoch),
            epoch,
        }
    }
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp.
pub fn rfc3339(epoch_secs: u64) -> String {
    let days = (epoch_secs / 86_400) as i64;
    let rem = epoch_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds as an ISO 8601 duration (`P2DT3H`, `PT45S`): how PAO says how long something took.
pub fn format_duration(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 || days == 0 {
        out.push('T');
        for (n, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
            if n > 0 {
                out.push_str(&format!("{n}{unit}"));
            }
        }
        if rest == 0 {
            out.push_str("0S");
        }
    }
    out
}

/// The epoch seconds of a timestamp PAO wrote (`YYYY-MM-DDTHH:MM:SSZ`), if it is one.
pub fn epoch_of(timestamp: &str) -> Option<u64> {
    let b = timestamp.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| timestamp.get(r)?.parse::<u32>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(h * 3600 + min * 60 + sec);
    u64::try_from(secs).ok()
}

/// An ISO 8601 duration of weeks, days, hours, minutes and seconds (`P2D`, `PT8H`,
/// `P1DT12H`, `PT90M`). Years and months are refused: their length depends on the calendar.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad =
        |why: &str| format!("{text:?} is not an ISO 8601 duration such as P2D or PT8H: {why}");
    let rest = text
        .strip_prefix('P')
        .ok_or_else(|| bad("it starts with P"))?;
    if rest.is_empty() || rest == "T" {
        return Err(bad("it names no amount"));
    }
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(bad("a T is followed by a time")),
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut seconds: u64 = 0;
    for (part, units) in [
        (date, &[('W', 604_800), ('D', 86_400)][..]),
        (time, &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        let mut last = None;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = units
                .iter()
                .position(|(u, _)| *u == c)
                .ok_or_else(|| match c {
                    'Y' | 'M' if part == date => {
                        bad("years and months have no fixed length: use weeks or days")
                    }
                    _ => bad(&format!("{c:?} is not a unit here")),
                })?;
            if number.is_empty() || last.is_some_and(|l| l >= position) {
                return Err(bad("each unit once, largest first, each with a number"));
            }
            let n: u64 = number.parse().map_err(|_| bad("a number is too large"))?;
            seconds = n
                .checked_mul(units[position].1)
                .and_then(|s| seconds.checked_add(s))
                .ok_or_else(|| bad("it is too long"))?;
            number.clear();
            last = Some(position);
        }
        if !number.is_empty() {
            return Err(bad("a number has no unit"));
        }
    }
    Ok(std::time::Duration::from_secs(seconds))
}

/// A Lambda invocation's deadline (epoch milliseconds, as Lambda gives it) as an `Instant`
/// (0: none given).
pub fn deadline_of(deadline_ms: u64) -> Option<std::time::Instant> {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_deadline_becomes_an_instant() {
        use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
        assert_eq!(deadline_of(0), None, "no deadline given");
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let left = deadline_of(now_ms + 50_000)
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        assert!(
            left > Duration::from_secs(45) && left <= Duration::from_secs(50),
            "{left:?}"
        );
        let passed = deadline_of(now_ms.saturating_sub(1_000))
            .map(|d| d.saturating_duration_since(Instant::now()));
        assert_eq!(passed, Some(Duration::ZERO));
    }

    #[test]
    fn iso_durations() {
        let secs = |t: &str| parse_duration(t).map(|d| d.as_secs());
        assert_eq!(secs("P2D"), Ok(172_800));
        assert_eq!(secs("PT8H"), Ok(28_800));
        assert_eq!(secs("P1DT12H"), Ok(129_600));
        assert_eq!(secs("PT90M"), Ok(5400));
        assert_eq!(secs("P1W"), Ok(604_800));
        assert_eq!(secs("PT1H30M15S"), Ok(5415));
        for bad in [
            "",
            "P",
            "PT",
            "2D",
            "P1M",
            "P1Y",
            "PT1D",
            "P1DT",
            "PT5",
            "PT1M1H",
            "PD",
            "P1D1D",
            "P99999999999999999999D",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(
            parse_duration("P1M")
                .expect_err("months are refused")
                .contains("years and months")
        );
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_426_200), "2026-11-23T09:30:00Z");
        assert!(crate::value::is_datetime(&now_rfc3339()));
    }

    #[test]
    fn parses_what_it_formats() {
        for t in [0, 951_782_400, 1_795_426_200, now_epoch()] {
            assert_eq!(epoch_of(&rfc3339(t)), Some(t));
        }
        assert_eq!(epoch_of("2026-13-01T00:00:00Z"), None);
        assert_eq!(epoch_of("yesterday"), None);
    }

    #[test]
    fn durations_read_back_as_iso_8601() {
        assert_eq!(format_duration(0), "PT0S");
        assert_eq!(format_duration(45), "PT45S");
        assert_eq!(format_duration(8 * 3600), "PT8H");
        assert_eq!(format_duration(2 * 86_400), "P2D");
        assert_eq!(format_duration(86_400 + 3 * 3600 + 61), "P1DT3H1M1S");
        for s in [1, 59, 3600, 172_800, 200_000] {
            assert_eq!(
                parse_duration(&format_duration(s)).map(|d| d.as_secs()),
                Ok(s)
            );
        }
    }
}
