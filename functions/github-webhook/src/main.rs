//! PAO `github-webhook` Lambda function: the GitHub webhook that syncs the catalog.
//!
//! The function crates stay thin: `main` builds clients and config once and hands a handler
//! from the `pao` library to `lambda_runtime::run`. The handler itself is not written yet;
//! until it is, this binary refuses to start rather than pretend to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "pao github-webhook {}: not implemented yet (the GitHub webhook that syncs the catalog)",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::FAILURE
}
