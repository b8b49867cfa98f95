//! The outbound client of `rest-api` and `webhook` items ignores proxies from the environment:
//! through a proxy the target's name would be resolved by the proxy, past the resolver that
//! refuses internal addresses. The request is made by a child process of this test binary
//! started with HTTPS_PROXY set (the workspace forbids the `unsafe` set_var).

use std::io::Read;
use std::net::TcpListener;

const CHILD: &str = "PAO_PROXY_TEST_CHILD";

/// Run in the child only: one request of an item to a name nothing answers.
#[tokio::test]
async fn child_makes_one_outbound_request() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let out = pao::action::http::Outbound::new(pao::action::http::Allowed::default());
    let url = reqwest::Url::parse("https://metadata.internal.example/latest").expect("url");
    let request = out
        .request(reqwest::Method::GET, url.clone())
        .expect("a request");
    let answer = out
        .send(&url, request, std::time::Duration::from_secs(3))
        .await;
    assert!(answer.is_err(), "nothing answers that name here");
}

#[test]
fn items_never_go_through_an_environment_proxy() {
    let proxy = TcpListener::bind("127.0.0.1:0").expect("a listener");
    proxy.set_nonblocking(true).expect("nonblocking");
    let addr = proxy.local_addr().expect("address");
    let status = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .args(["--exact", "child_makes_one_outbound_request", "--quiet"])
        .env(CHILD, "1")
        .env("HTTPS_PROXY", format!("http://{addr}"))
        .env("HTTP_PROXY", format!("http://{addr}"))
        .env("ALL_PROXY", format!("http://{addr}"))
        .status()
        .expect("the child runs");
    assert!(status.success(), "the child's request");
    let reached = match proxy.accept() {
        Ok((mut stream, _)) => {
            let mut first = [0u8; 64];
            let n = stream.read(&mut first).unwrap_or(0);
            Some(String::from_utf8_lossy(&first[..n]).into_owned())
        }
        Err(_) => None,
    };
    assert_eq!(reached, None, "the request went to the environment's proxy");
}
