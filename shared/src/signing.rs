//! Signing calls to PAO's API with AWS Signature Version 4 (service `execute-api`), using the
//! AWS SDK's own signer: what `devctl` and the tests send, and what API Gateway (or the local
//! runner) verifies.

use std::time::SystemTime;

/// Credentials to sign with.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The headers to send with a call (`host`, `x-amz-date`, `authorization`, and the session
/// token when there is one) besides `content-type: application/json`.
pub fn sign(
    method: &str,
    url: &str,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    at: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    sign_for(
        ("execute-api", "application/json"),
        method,
        url,
        body,
        credentials,
        region,
        at,
    )
}

/// One POST to an AWS service's `endpoint`, signed with the credentials `provider` gives now:
/// `service` and the content type its protocol sends, extra `headers` (KMS's target), and
/// the answer's status and text. Errors are words for the caller's own error type; the
/// endpoint's URL is never part of them.
pub async fn signed_post(
    (http, timeout): (&reqwest::Client, std::time::Duration),
    endpoint: &str,
    (service, content_type): (&str, &str),
    region: &str,
    provider: Option<&aws_credential_types::provider::SharedCredentialsProvider>,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<(u16, String), String> {
    use aws_credential_types::provider::ProvideCredentials;
    let provider = provider.ok_or("no AWS credentials")?;
    let c = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("credentials: {e}"))?;
    let credentials = Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().map(str::to_string),
    };
    let signed = sign_for(
        (service, content_type),
        "POST",
        endpoint,
        &body,
        &credentials,
        region,
        SystemTime::now(),
    )?;
    let mut request = http.post(endpoint).timeout(timeout);
    for (k, v) in headers {
        request = request.header(*k, v.as_str());
    }
    for (k, v) in signed.iter().filter(|(k, _)| k != "host") {
        request = request.header(k.as_str(), v.as_str());
    }
    let answer = request
        .body(body)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = answer.status().as_u16();
    let text = answer
        .text()
        .await
        .map_err(|e| e.without_url().to_string())?;
    Ok((status, text))
}

/// [`sign`] for an AWS service (`service`, and the content type its protocol sends).
pub fn sign_for(
    (service, content_type): (&str, &str),
    method: &str,
    url: &str,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    at: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let host = url
        .split("//")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{url} has no host"))?
        .to_string();
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            credentials.session_token.clone(),
            None,
            "pao",
        )
        .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let mut headers = vec![
        ("host".to_string(), host),
        ("content-type".to_string(), content_type.to_string()),
    ];
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    for (k, v) in instructions.headers() {
        headers.push((k.to_string(), v.to_string()));
    }
    Ok(headers)
}

/// RFC 3986 percent-encoding of every byte but the unreserved characters (and `/` when
/// `keep_slash`): how SigV4 encodes a canonical request's parts, and how a client encodes a
/// query value or path segment.
pub fn uri_encode(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
