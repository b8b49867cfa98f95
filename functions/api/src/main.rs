//! PAO `api` Lambda function: the API Gateway REST API handler for every /api/v1 route except the webhook.
//!
//! The function crates stay thin: `main` builds clients and config once and hands a handler
//! from the `pao` library to `lambda_runtime::run`. The handler itself is not written yet;
//! until it is, this binary refuses to start rather than pretend to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "pao api {}: not implemented yet (the API Gateway REST API handler for every /api/v1 route except the webhook)",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::FAILURE
}
