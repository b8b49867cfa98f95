//! How a `jira-ticket` item waits for its ticket to be resolved, from its config keys: what
//! validation checks and what the worker and the sweeper read. Kept with the catalog so that
//! validation needs nothing from the actions.

use serde_json::Value;
use std::time::Duration;

/// How a `jira-ticket` item waits for its ticket, from its config: `waitForResolution`
/// (default `true`), `successResolutions` (default `action::jira::SUCCESS_RESOLUTIONS`) and `maxWait` (an
/// ISO 8601 duration after which the waiting task is marked overdue, never failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waiting {
    pub wait: bool,
    pub success: Vec<String>,
    pub max_wait: Option<Duration>,
}

/// What a ticket has when it is made, whatever happens to it later: the only `outputs`
/// pointers of an item that does not wait for its resolution.
pub const CREATED_POINTERS: &[&str] = &["/key", "/id", "/url"];

impl Waiting {
    /// The keys of a `jira-ticket` config; each error names its key.
    pub fn of(config: &Value) -> Result<Self, (&'static str, String)> {
        let wait = match config.get("waitForResolution") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(("waitForResolution", "is true or false".into())),
        };
        let success = match config.get("successResolutions") {
            None => Vec::new(),
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|r| {
                    r.as_str()
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                        .ok_or(("successResolutions", "holds resolution names".to_string()))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err((
                    "successResolutions",
                    "is a list of resolution names (Done, Fixed…)".into(),
                ));
            }
        };
        let max_wait = match config.get("maxWait") {
            None => None,
            Some(Value::String(d)) => {
                Some(crate::clock::parse_duration(d).map_err(|e| ("maxWait", e))?)
            }
            Some(_) => return Err(("maxWait", "is an ISO 8601 duration such as P2D".into())),
        };
        if !wait && (!success.is_empty() || max_wait.is_some()) {
            let key = if success.is_empty() {
                "maxWait"
            } else {
                "successResolutions"
            };
            return Err((key, "applies only to an item that waits for its ticket's resolution (waitForResolution is false)".into()));
        }
        Ok(Self {
            wait,
            success,
            max_wait,
        })
    }

    /// Whether an `outputs` pointer reads what only a resolved ticket has.
    pub fn needs_resolution(pointer: &str) -> bool {
        !CREATED_POINTERS.contains(&pointer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waiting_is_the_default_and_its_keys_are_checked() {
        let w = Waiting::of(&json!({"project": "P"})).expect("valid");
        assert!(w.wait && w.success.is_empty() && w.max_wait.is_none());
        let w = Waiting::of(&json!({"successResolutions": ["Provisioned"], "maxWait": "P2D"}))
            .expect("valid");
        assert_eq!(w.success, vec!["Provisioned".to_string()]);
        assert_eq!(w.max_wait, Some(Duration::from_secs(172_800)));
        assert!(
            !Waiting::of(&json!({"waitForResolution": false}))
                .expect("valid")
                .wait
        );
        for (config, key) in [
            (json!({"waitForResolution": "yes"}), "waitForResolution"),
            (json!({"successResolutions": []}), "successResolutions"),
            (json!({"successResolutions": [" "]}), "successResolutions"),
            (json!({"maxWait": "2 days"}), "maxWait"),
            (
                json!({"waitForResolution": false, "maxWait": "P1D"}),
                "maxWait",
            ),
        ] {
            assert_eq!(Waiting::of(&config).map_err(|e| e.0), Err(key), "{config}");
        }
        assert!(!Waiting::needs_resolution("/key"));
        assert!(Waiting::needs_resolution("/fields/customfield_10050"));
    }
}
