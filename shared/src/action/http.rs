//! Outbound HTTP for the `rest-api` and `webhook` actions: where a rendered URL may go, a
//! circuit breaker per host, and how a target's answer becomes an error message.
//!
//! A URL rendered from user input must not reach inside the network PAO runs in: it must be
//! `https` (plain `http` only to hosts the operator allows, which the local stack uses), and
//! neither its literal address nor any address its name resolves to may be loopback,
//! link-local (169.254.169.254 is the instance metadata service), private, or otherwise
//! internal, unless the operator allows that host. The check is made where the connection is
//! made (a DNS resolver that refuses such addresses), so a name that resolves differently the
//! second time cannot slip through; redirects are not followed.

use super::ActionError;
use reqwest::Url;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures in a row after which a host is not called for a while.
const BREAKER_THRESHOLD: u32 = 5;
/// How long calls to such a host fail fast.
const BREAKER_COOL_DOWN: Duration = Duration::from_secs(30);

/// Hosts the operator allows beyond the rule (`PAO_HTTP_ALLOW_HOSTS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    hosts: Vec<String>,
}

impl Allowed {
    /// From a comma-separated list of host names or addresses (`127.0.0.1,localhost`).
    pub fn parse(list: &str) -> Self {
        Self {
            hosts: crate::config::comma_list(list)
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        }
    }

    fn allows(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// Whether an address is inside: loopback, link-local (metadata), private, shared, or unset.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks).
            if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                let [a, b, c, d] = v6.octets()[12..16] else {
                    return true;
                };
                return is_internal(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            let first = s[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is metadata)
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated, still routed inside)
                // NAT64 (64:ff9b::/96, and 64:ff9b:1::/48 for local use): reaches IPv4
                // addresses, internal ones included, through a translator.
                || (first == 0x64 && s[1] == 0xff9b)
        }
    }
}

/// Checks a rendered URL before anything is sent: scheme, a literal address, and a path
/// that means what it says (no dot segment or encoded slash, which parsing would resolve).
pub fn check_url(raw: &str, allowed: &Allowed) -> Result<Url, ActionError> {
    crate::template::check_request_path(raw.trim())
        .map_err(|e| ActionError::Config(format!("url: {e}")))?;
    let url = Url::parse(raw.trim())
        .map_err(|e| ActionError::Config(format!("url {raw:?} is not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| ActionError::Config(format!("url {raw:?} has no host")))?
        .to_string();
    match url.scheme() {
        "https" => {}
        "http" if allowed.allows(&host) => {}
        "http" => {
            return Err(ActionError::Config(format!(
                "url {raw:?} must use https (plain http only to hosts in PAO_HTTP_ALLOW_HOSTS)"
            )));
        }
        other => {
            return Err(ActionError::Config(format!(
                "url {raw:?}: scheme {other} is not allowed (https only)"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ActionError::Config(
            "url must not carry credentials: name a secret in `auth`".into(),
        ));
    }
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>();
    if let Ok(ip) = literal {
        if is_internal(ip) && !allowed.allows(&host) {
            return Err(refused(&host));
        }
    }
    Ok(url)
}

fn refused(host: &str) -> ActionError {
    ActionError::Config(format!(
        "url host {host} is an internal address (loopback, link-local, metadata or private); PAO does not call it"
    ))
}

/// Resolves names and keeps only outside addresses (all of them for an allowed host).
#[derive(Debug, Clone)]
struct OutsideOnly {
    allowed: Allowed,
}

impl reqwest::dns::Resolve for OutsideOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let outside: Vec<SocketAddr> = if allowed.allows(&host) {
                found
            } else {
                found.into_iter().filter(|a| !is_internal(a.ip())).collect()
            };
            if outside.is_empty() {
                return Err(Box::new(std::io::Error::other(format!(
                    "{host} resolves only to internal addresses"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(outside.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of the outbound actions, with its rules and circuit breakers.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The client with the rules built in, built on first use (it reads the trust store);
    /// if it cannot be built, nothing is sent (a client without the resolver would let
    /// internal addresses through).
    client: Arc<std::sync::OnceLock<Result<reqwest::Client, String>>>,
    pub allowed: Allowed,
    breakers: Arc<Mutex<HashMap<String, Breaker>>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Outbound {
    pub fn new(allowed: Allowed) -> Self {
        Self {
            client: Arc::default(),
            allowed,
            breakers: Arc::default(),
        }
    }

    fn client(&self) -> &Result<reqwest::Client, String> {
        self.client.get_or_init(|| {
            crate::https::client_builder()
                // No proxy from the environment: through a proxy the target's name would be
                // resolved by the proxy, never by the resolver below that refuses internal
                // addresses.
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(Arc::new(OutsideOnly {
                    allowed: self.allowed.clone(),
                }))
                .user_agent("PAO")
                .build()
                .map_err(|e| e.to_string())
        })
    }

    /// A request to `url` on the rule-keeping client.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: Url,
    ) -> Result<reqwest::RequestBuilder, ActionError> {
        match self.client() {
            Ok(client) => Ok(client.request(method, url)),
            Err(e) => Err(ActionError::Unreachable(format!(
                "no HTTP client for outbound calls: {e}"
            ))),
        }
    }

    /// Refuses at once while `host`'s breaker is open.
    pub fn admit(&self, host: &str) -> Result<(), ActionError> {
        let breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        match breakers.get(host).and_then(|b| b.open_until) {
            Some(until) if Instant::now() < until => Err(ActionError::Unreachable(format!(
                "{host}: not called for {} s after {BREAKER_THRESHOLD} failures in a row (circuit open)",
                until
                    .saturating_duration_since(Instant::now())
                    .as_secs()
                    .max(1)
            ))),
            _ => Ok(()),
        }
    }

    /// Records how a call to `host` went: a failure is no answer or a 5xx.
    pub fn record(&self, host: &str, failed: bool) {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let b = breakers.entry(host.to_string()).or_default();
        if failed {
            b.failures += 1;
            if b.failures >= BREAKER_THRESHOLD {
                b.open_until = Some(Instant::now() + BREAKER_COOL_DOWN);
                b.failures = 0;
            }
        } else {
            *b = Breaker::default();
        }
    }

    /// Sends a request built for `url`, with the breaker and the timeout, and reads the answer.
    pub async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Answer, ActionError> {
        let host = url.host_str().unwrap_or_default().to_string();
        self.admit(&host)?;
        let sent = request.timeout(timeout).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                self.record(&host, true);
                return Err(no_answer(e, &host, timeout));
            }
        };
        let status = response.status().as_u16();
        let headers: serde_json::Map<String, serde_json::Value> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.into())))
            .collect();
        // Read at most MAX_ANSWER bytes: an answer past it would fill the function's memory
        // and could not be stored with the task anyway.
        let mut response = response;
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_ANSWER {
                        self.record(&host, false);
                        return Err(ActionError::Rejected(format!(
                            "{host} answered more than {} KiB; PAO reads at most that much of an answer",
                            MAX_ANSWER / 1024
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    self.record(&host, true);
                    return Err(no_answer(e, &host, timeout));
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.record(&host, status >= 500);
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.clone()));
        Ok(Answer {
            status,
            headers,
            body,
            text,
        })
    }
}

/// The most of an answer PAO reads (1 MiB).
pub const MAX_ANSWER: usize = 1024 * 1024;

/// A call that got no (whole) answer: a timeout, or why the host could not be reached.
fn no_answer(e: reqwest::Error, host: &str, timeout: Duration) -> ActionError {
    if e.is_timeout() {
        ActionError::Timeout(timeout.as_secs())
    } else {
        ActionError::Unreachable(format!("{host} ({})", reason(e)))
    }
}

/// Why a call got no answer, without the URL (it may carry rendered input).
fn reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// `(timestamp, "sha256=<hex>")`: the HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`,
/// as the `hmac` auth of `rest-api` and a signed `webhook` send it.
pub fn signature(secret: &[u8], body: &[u8]) -> (String, String) {
    use hmac::{Hmac, KeyInit, Mac};
    let timestamp = crate::clock::now_epoch().to_string();
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return (timestamp, String::new());
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let signed = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    (timestamp, signed)
}

/// A target's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The body as JSON when it is JSON, else as a string.
    pub body: serde_json::Value,
    pub text: String,
}

/// Every form in which PAO itself sent a secret, and a target may echo it back: as it is,
/// base64 (`Authorization: Basic` carries `user:password` so), URL-encoded, JSON-escaped; for
/// `user:password`, the password alone too. Longest first, so that a form inside another is
/// blanked as part of it.
impl Answer {
    /// The error for an answer that is not one of `expected` (empty: any 2xx), naming its
    /// status and the start of its body, with every `secret` blanked out.
    pub fn check(&self, what: &str, expected: &[u16], secrets: &[&str]) -> Result<(), ActionError> {
        let ok = if expected.is_empty() {
            (200..300).contains(&self.status)
        } else {
            expected.contains(&self.status)
        };
        if ok {
            return Ok(());
        }
        let quoted = crate::redact::quote(&self.text, secrets);
        Err(ActionError::Rejected(format!(
            "{what} answered {}{}",
            self.status,
            if quoted.is_empty() {
                String::new()
            } else {
                format!(": {quoted}")
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn urls_must_be_https_and_outside() {
        let none = Allowed::default();
        assert!(check_url("https://cmdb.example.com/api", &none).is_ok());
        assert!(check_url("https://[2606:4700:4700::1111]/", &none).is_ok());
        for bad in [
            "http://cmdb.example.com/api",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://[::10.0.0.1]/x",
            "https://[::169.254.169.254]/x",
            "https://[64:ff9b::a9fe:a9fe]/x",
            "https://[64:ff9b:1::1]/x",
            "https://[fec0::1]/x",
            "https://[fd00:ec2::254]/x",
            "https://127.0.0.1:8443/",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
            // A rendered URL that reached the worker without the URL template's encoding.
            "https://deploy.example.com/api/namespaces/a/../../other-team/x",
            "https://deploy.example.com/api/%2e%2e/x",
            "https://deploy.example.com/api/a%2Fb",
        ] {
            assert!(check_url(bad, &none).is_err(), "{bad}");
        }
        let local = Allowed::parse("127.0.0.1, localhost");
        assert!(check_url("http://127.0.0.1:8083/x", &local).is_ok());
        assert!(check_url("http://169.254.169.254/", &local).is_err());
    }

    #[test]
    fn the_breaker_opens_after_failures_and_closes_on_success() {
        let out = Outbound::new(Allowed::default());
        for _ in 0..BREAKER_THRESHOLD - 1 {
            out.record("a.example.com", true);
        }
        assert!(out.admit("a.example.com").is_ok());
        out.record("a.example.com", false);
        for _ in 0..BREAKER_THRESHOLD {
            out.record("a.example.com", true);
        }
        let refused = out.admit("a.example.com").expect_err("open");
        assert!(refused.to_string().contains("circuit open"), "{refused}");
        assert!(out.admit("b.example.com").is_ok(), "per host");
    }

    #[test]
    fn errors_quote_the_answer_without_secrets() {
        let answer = Answer {
            status: 403,
            headers: Default::default(),
            body: serde_json::Value::Null,
            text: "{\"error\": \"token s3cr3t-token is not allowed\"}".into(),
        };
        let e = answer
            .check("POST cmdb.example.com/api", &[], &["s3cr3t-token"])
            .expect_err("403");
        let text = e.to_string();
        assert!(text.contains("answered 403"), "{text}");
        assert!(!text.contains("s3cr3t-token"), "{text}");
        assert!(answer.check("x", &[403], &[]).is_ok());
    }

    #[test]
    fn every_form_pao_sent_a_secret_in_is_blanked() {
        use base64::Engine as _;
        let secret = "svc-user:p@ss w\"rd/42";
        let basic = base64::engine::general_purpose::STANDARD.encode(secret);
        let echoes = [
            format!("Authorization: Basic {basic} was refused"),
            format!(
                "token={} is not valid",
                crate::signing::uri_encode(secret.as_bytes(), false)
            ),
            format!(
                "{{\"token\": {}}}",
                serde_json::to_string(secret).unwrap_or_default()
            ),
            "password p@ss w\"rd/42 expired".to_string(),
            // Cut at the quoting limit: the secret straddles it.
            format!("{}{secret}", "x".repeat(crate::redact::QUOTED - 5)),
        ];
        for text in echoes {
            let answer = Answer {
                status: 401,
                headers: Default::default(),
                body: serde_json::Value::Null,
                text: text.clone(),
            };
            let e = answer
                .check("POST cmdb.example.com/api", &[], &[secret])
                .expect_err("401")
                .to_string();
            for leak in ["p@ss", "rd/42", "svc-u", &basic[..12], "p%40ss", "w\\\"rd"] {
                assert!(!e.contains(leak), "{leak} in {e} (from {text})");
            }
        }
    }
}
