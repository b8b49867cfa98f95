//! Metrics in CloudWatch embedded metric format (EMF): each measurement is one JSON line on
//! stdout, which CloudWatch Logs turns into metrics of the namespace [`NAMESPACE`] with no
//! `PutMetricData` call (nothing to wait for, nothing to pay per call). Every line carries
//! the `Environment` and `Function` dimensions, so deployments and functions never mix.
//!
//! What is measured, and where (the README lists them with their dimensions):
//! the API (latency and 4xx/5xx per route, requests submitted per catalog item), the worker
//! (task duration and outcome per fulfillment type, requests completed or failed per catalog
//! item) and the sweeper (oldest queued task, stuck tasks, dead-letter depth).

use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

pub const NAMESPACE: &str = "PAO";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
        }
    }
}

/// Where metric lines go.
#[derive(Debug, Clone)]
enum Sink {
    /// Lambda: stdout, which CloudWatch Logs reads.
    Stdout,
    /// Tests: kept in memory to be read back.
    Memory(Arc<Mutex<Vec<String>>>),
    /// Nowhere (`PAO_METRICS=off`; the local stack unless asked).
    Off,
}

/// The metrics of one function in one environment.
#[derive(Debug, Clone)]
pub struct Metrics {
    function: &'static str,
    environment: String,
    sink: Sink,
}

impl Metrics {
    /// Metrics written to stdout, as Lambda's log capture expects them.
    pub fn stdout(function: &'static str, environment: &str) -> Self {
        Self {
            function,
            environment: environment.to_string(),
            sink: Sink::Stdout,
        }
    }

    /// The metrics a deployed function writes: stdout, unless the config turns them off.
    pub fn from_config(function: &'static str, config: &crate::config::Config) -> Self {
        let mut m = Self::stdout(function, &config.environment);
        if !config.metrics {
            m.sink = Sink::Off;
        }
        m
    }

    /// Metrics kept in memory ([`Metrics::lines`] reads them back).
    pub fn in_memory(function: &'static str, environment: &str) -> Self {
        Self {
            function,
            environment: environment.to_string(),
            sink: Sink::Memory(Arc::default()),
        }
    }

    /// The lines written so far by an in-memory sink (none for stdout).
    pub fn lines(&self) -> Vec<String> {
        match &self.sink {
            Sink::Stdout | Sink::Off => Vec::new(),
            Sink::Memory(lines) => lines.lock().map(|l| l.clone()).unwrap_or_default(),
        }
    }

    /// Writes `values` (name, value, unit) under `dimensions` (name, value) as one EMF line.
    pub fn emit(&self, dimensions: &[(&str, &str)], values: &[(&str, f64, Unit)]) {
        if matches!(self.sink, Sink::Off) {
            return;
        }
        let line = self.line(dimensions, values, now_millis()).to_string();
        match &self.sink {
            // One locked write per line, so that log lines of other threads never cut into it
            // (and the test harness captures it like any print).
            Sink::Stdout => println!("{line}"),
            Sink::Memory(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
            Sink::Off => {}
        }
    }

    /// Counts one occurrence of `name`.
    pub fn count(&self, dimensions: &[(&str, &str)], name: &str) {
        self.emit(dimensions, &[(name, 1.0, Unit::Count)]);
    }

    fn line(&self, dimensions: &[(&str, &str)], values: &[(&str, f64, Unit)], ts: u64) -> Value {
        let mut names = vec!["Environment", "Function"];
        names.extend(dimensions.iter().map(|(k, _)| *k));
        let metrics: Vec<Value> = values
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({"Timestamp": ts, "CloudWatchMetrics": [{
                "Namespace": NAMESPACE, "Dimensions": [names], "Metrics": metrics}]}),
        );
        root.insert("Environment".into(), json!(self.environment));
        root.insert("Function".into(), json!(self.function));
        for (k, v) in dimensions {
            root.insert((*k).into(), json!(v));
        }
        for (name, value, _) in values {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root)
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Checks that `line` is an EMF document CloudWatch would accept: every dimension and metric
/// it declares is a top-level member (dimensions strings, metrics numbers). Returns the
/// metric names, or what is wrong.
pub fn parse_emf(line: &str) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let aws = v.get("_aws").ok_or("no _aws member")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not a number of milliseconds")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    let mut names = Vec::new();
    for d in directives {
        d.get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("a directive has no Namespace")?;
        for set in d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("a directive has no Dimensions")?
        {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("more than 30 dimensions".into());
            }
            for dim in set {
                let dim = dim.as_str().ok_or("a dimension name is not a string")?;
                v.get(dim)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("dimension {dim} has no string value"))?;
            }
        }
        for m in d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("a directive has no Metrics")?
        {
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric has no Name")?;
            v.get(name)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("metric {name} has no numeric value"))?;
            names.push(name.to_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_valid_emf_with_its_dimensions() {
        let m = Metrics::in_memory("api", "dev");
        m.emit(
            &[("Route", "GET /requests/{id}")],
            &[
                ("Latency", 12.5, Unit::Milliseconds),
                ("5xx", 0.0, Unit::Count),
            ],
        );
        let lines = m.lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            parse_emf(&lines[0]),
            Ok(vec!["Latency".to_string(), "5xx".to_string()])
        );
        let v: Value = serde_json::from_str(&lines[0]).unwrap_or_default();
        assert_eq!(v["Route"], "GET /requests/{id}");
        assert_eq!(v["Environment"], "dev");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            json!(["Environment", "Function", "Route"])
        );
    }

    #[test]
    fn malformed_emf_is_named() {
        assert!(parse_emf("{}").is_err());
        let missing = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"PAO","Dimensions":[["Function"]],"Metrics":[{"Name":"X"}]}]},"X":1}"#;
        assert_eq!(
            parse_emf(missing),
            Err("dimension Function has no string value".into())
        );
    }
}
