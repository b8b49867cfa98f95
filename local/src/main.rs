//! `pao-local`: the whole PAO stack on one machine (local AWS endpoint, API on
//! 127.0.0.1:3000 with SigV4 checks, the worker polling SQS, the sweeper on its schedule).
//! Not written yet; until it is, this binary refuses to start rather than pretend to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "pao-local {}: the local stack is not implemented yet",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::FAILURE
}
