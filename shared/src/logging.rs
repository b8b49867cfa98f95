//! Logs as Lambda wants them: `tracing` JSON, one object per line, with the current span's
//! fields (the correlation id) on every line; the level comes from `RUST_LOG` (default info).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter `RUST_LOG` names: a level (`info`), or targets with levels
/// (`pao=debug,warn`). A value that does not parse, or names nothing, falls back to `info`. (Targets, not
/// `EnvFilter`: the same syntax without span-field matching, which would link a regex engine
/// into every function.)
pub fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        // A value that names nothing would silence every log line.
        .filter(|t| t.default_level().is_some() || t.iter().next().is_some())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// Installs the JSON subscriber once per process; later calls do nothing.
pub fn init() {
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter(std::env::var("RUST_LOG").ok().as_deref()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn rust_log_names_levels_and_targets() {
        assert_eq!(filter(None).default_level(), Some(LevelFilter::INFO));
        assert_eq!(
            filter(Some("warn")).default_level(),
            Some(LevelFilter::WARN)
        );
        let t = filter(Some("pao=debug,warn"));
        assert!(t.would_enable("pao::worker", &Level::DEBUG));
        assert!(!t.would_enable("hyper", &Level::INFO));
        assert_eq!(filter(Some("  ")).default_level(), Some(LevelFilter::INFO));
    }
}
