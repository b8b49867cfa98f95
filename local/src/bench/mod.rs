//! `make bench`: what a user would compare PAO on, each figure beside its goal and the floor
//! measured in the same run on the same endpoint. The parts: [`floor`] (the irreducible AWS
//! work of a submission and a detail read), [`calls`] (AWS calls counted at the wire),
//! [`cost`] (the bill per million requests), [`refresh`] (a catalog sync timed),
//! [`fixture`] (the catalog item and submissions all parts use), [`cold`] (cold starts of the release binaries
//! against a stub Lambda Runtime API), [`load`] (the local stack's HTTP API under load),
//! [`live`] (commit to WebSocket message).

pub mod calls;
pub mod cold;
pub mod cost;
pub mod fixture;
pub mod floor;
pub mod live;
pub mod load;
pub mod refresh;
pub mod units;

use std::time::Duration;

/// p50, p95, p99 of a set of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spread {
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

impl Spread {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let at = |p: f64| {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
            samples[i.min(samples.len() - 1)]
        };
        Self {
            p50: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
        }
    }

    /// `p50 / p95 / p99 ms`.
    pub fn ms(&self) -> String {
        format!(
            "{} / {} / {} ms",
            short(self.p50),
            short(self.p95),
            short(self.p99)
        )
    }

    /// Each percentile's ratio to `floor`'s.
    pub fn ratio(&self, floor: &Spread) -> (f64, f64, f64) {
        let r = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        (
            r(self.p50, floor.p50),
            r(self.p95, floor.p95),
            r(self.p99, floor.p99),
        )
    }
}

/// Milliseconds with one decimal (two below 1 ms).
pub fn short(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

/// The median of running `f` `n` times (in-process work, no I/O).
pub fn median_of<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    let samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    Spread::of(samples).p50
}

/// One line of the table: what, the measured value, the goal, the floor it is compared with.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub figure: String,
    pub value: String,
    pub goal: String,
    pub floor: String,
    /// Whether the goal is met (`None`: no goal).
    pub met: Option<bool>,
}

impl Row {
    pub fn new(figure: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            figure: figure.into(),
            value: value.into(),
            ..Self::default()
        }
    }

    pub fn goal(mut self, goal: impl Into<String>, met: bool) -> Self {
        self.goal = goal.into();
        self.met = Some(met);
        self
    }

    pub fn floor(mut self, floor: impl Into<String>) -> Self {
        self.floor = floor.into();
        self
    }
}

/// The table, columns aligned; a goal missed is marked `MISSED`.
pub fn render(rows: &[Row]) -> String {
    let head = ["figure", "value", "goal", "floor (same run)"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            let goal = match r.met {
                Some(true) => format!("{} ok", r.goal),
                Some(false) => format!("{} MISSED", r.goal),
                None => String::new(),
            };
            [r.figure.clone(), r.value.clone(), goal, r.floor.clone()]
        })
        .collect();
    let mut widths = head.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |c: [&str; 4]| {
        let mut s = String::new();
        for (i, (v, w)) in c.iter().zip(widths).enumerate() {
            if i + 1 == c.len() {
                s.push_str(v);
            } else {
                s.push_str(&format!("{v:<w$} | "));
            }
        }
        format!("| {} |\n", s.trim_end())
    };
    let mut out = line(head);
    out.push_str(&line(
        widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str),
    ));
    for c in &cells {
        out.push_str(&line(c.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_ratios() {
        let s = Spread::of((1..=100).map(Duration::from_millis).collect());
        assert_eq!(s.p50, Duration::from_millis(51));
        assert_eq!(s.p99, Duration::from_millis(99));
        let floor = Spread::of(vec![Duration::from_millis(10)]);
        let (p50, _, _) = s.ratio(&floor);
        assert!((p50 - 5.1).abs() < 1e-9);
    }

    #[test]
    fn the_table_marks_what_missed() {
        let out = render(&[
            Row::new("a", "1").goal("<= 2", true),
            Row::new("b", "3").goal("<= 2", false).floor("x"),
        ]);
        assert!(out.contains("<= 2 ok"), "{out}");
        assert!(out.contains("<= 2 MISSED"), "{out}");
        assert_eq!(out.lines().count(), 4);
    }
}
