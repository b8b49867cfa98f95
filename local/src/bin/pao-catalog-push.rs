//! `make catalog-push`: commits what you changed in the local stack's catalog repository
//! (`.local/catalog-repo`, or `PAO_CATALOG_GIT_DIR`) and delivers the signed push webhook to
//! the local API (`PAO_API_URL`, default `http://127.0.0.1:3000/api/v1`), as GitHub would.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let message = std::env::args()
        .nth(1)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "Catalog change".into());
    let dir = std::env::var("PAO_CATALOG_GIT_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.local/catalog-repo").into());
    let api =
        std::env::var("PAO_API_URL").unwrap_or_else(|_| "http://127.0.0.1:3000/api/v1".into());
    match pao_local::catalog_push::push(std::path::Path::new(&dir), &api, &message).await {
        Ok((status, answer)) => {
            println!("HTTP {status}");
            println!(
                "{}",
                serde_json::to_string_pretty(&answer).unwrap_or_default()
            );
            if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("pao-catalog-push: {e}");
            ExitCode::from(2)
        }
    }
}
