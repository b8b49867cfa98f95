//! Logs as Lambda wants them: `tracing` JSON, one object per line, with the current span's
//! fields (the correlation id) on every line; the level comes from `RUST_LOG` (default info).

/// Installs the JSON subscriber once per process; later calls do nothing.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .try_init();
}
