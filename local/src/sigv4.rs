//! Verifying AWS Signature Version 4 the way API Gateway's `AWS_IAM` authorizer does, for the
//! local API: the access key names a local identity (see `local/identities.json`), the
//! signature must match one computed with that identity's secret over the canonical request,
//! for service `execute-api` in the configured region, dated within 15 minutes.

use hmac::{Hmac, KeyInit, Mac};
use pao::signing::uri_encode;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A local identity: keys and the principal they stand for.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub arn: String,
    /// The principal's IAM tags (what `aws:PrincipalTag/<key>` sees in a resource policy).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The unique id IAM gives the principal behind `arn`, as API Gateway hands it to the
/// function (`identity.caller`): `AROA<role id>:<session>` for a role session, `AIDA<user id>`
/// for a user. The local stack derives the id from the role's or user's ARN, so it is stable
/// across sessions and changes when the name does, as IAM's would for a new role.
pub fn principal_id(arn: &str) -> String {
    use sha2::Digest as _;
    let unique = |what: &str| {
        let digest = sha2::Sha256::digest(what.as_bytes());
        digest[..8]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    };
    let Some(rest) = arn.strip_prefix("arn:aws:sts::") else {
        return format!("AIDA{}", unique(arn));
    };
    let mut parts = rest.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(account), Some(role), Some(session)) if account.ends_with(":assumed-role") => {
            format!("AROA{}:{session}", unique(&format!("{account}/{role}")))
        }
        _ => format!("AIDA{}", unique(arn)),
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("access_key_id", &self.access_key_id)
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

/// The default identity every local tool uses.
pub fn default_identity() -> Identity {
    Identity {
        access_key_id: "AKIAPAOLOCALDEV00001".into(),
        secret_access_key: "pao-local-dev-secret".into(),
        arn: "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com".into(),
        tags: Default::default(),
    }
}

/// The local operator (IAM tag `pao-role=operator`): may call the `/queue` routes.
pub fn operator_identity() -> Identity {
    Identity {
        access_key_id: "AKIAPAOLOCALOPERATOR".into(),
        secret_access_key: "pao-local-operator-secret".into(),
        arn: "arn:aws:sts::000000000000:assumed-role/PlatformOperator/ops@example.com".into(),
        tags: [("pao-role".to_string(), "operator".to_string())].into(),
    }
}

#[derive(Debug, Deserialize)]
struct IdentitiesFile {
    identities: Vec<Identity>,
}

/// Reads an identities file: `{"identities": [{"accessKeyId", "secretAccessKey", "arn",
/// "tags"}]}`.
pub fn load_identities(path: &Path) -> Result<Vec<Identity>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: IdentitiesFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(file.identities)
}

/// Why a call was refused (API Gateway answers 403 to all of these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("Authorization header is not AWS4-HMAC-SHA256: {0}")]
    Malformed(String),
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error("Credential should be scoped to a valid region and service execute-api: {0}")]
    WrongScope(String),
    #[error("Signature expired: the request date is not within 15 minutes of now")]
    Expired,
    #[error("The request signature we calculated does not match the signature you provided.")]
    Mismatch,
}

/// The parts of an HTTP request a signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

fn header<'a>(req: &'a SignedRequest<'_>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Verifies the request's signature; returns the identity that signed it.
pub fn verify<'i>(
    req: &SignedRequest<'_>,
    identities: &'i [Identity],
    region: &str,
    now_epoch: u64,
) -> Result<&'i Identity, SigError> {
    let auth = header(req, "authorization").ok_or(SigError::Missing)?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| SigError::Malformed("unsupported algorithm".into()))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (credential, signed_headers, signature) = match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => {
            return Err(SigError::Malformed(
                "Credential, SignedHeaders and Signature are required".into(),
            ));
        }
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, scope_region, service, terminator] = scope.as_slice() else {
        return Err(SigError::Malformed(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request".into(),
        ));
    };
    let identity = identities
        .iter()
        .find(|i| i.access_key_id == *key_id)
        .ok_or(SigError::UnknownKey)?;
    if *scope_region != region || *service != "execute-api" || *terminator != "aws4_request" {
        return Err(SigError::WrongScope(format!("{scope_region}/{service}")));
    }
    let amz_date = header(req, "x-amz-date")
        .ok_or_else(|| SigError::Malformed("X-Amz-Date is required".into()))?;
    if !amz_date.starts_with(date) {
        return Err(SigError::Malformed(
            "X-Amz-Date does not match the credential's date".into(),
        ));
    }
    let signed_at = parse_amz_date(amz_date)
        .ok_or_else(|| SigError::Malformed("X-Amz-Date is not YYYYMMDDTHHMMSSZ".into()))?;
    if signed_at.abs_diff(now_epoch) > 15 * 60 {
        return Err(SigError::Expired);
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"host") {
        return Err(SigError::Malformed("the host header must be signed".into()));
    }
    let canonical_headers: String = names
        .iter()
        .map(|n| {
            let values: Vec<String> = req
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            format!("{n}:{}\n", values.join(","))
        })
        .collect();
    let payload_hash = hex::encode(Sha256::digest(req.body));
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        req.method,
        canonical_path(req.path),
        canonical_query(req.query)
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/execute-api/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", identity.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, "execute-api", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    if constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        Ok(identity)
    } else {
        Err(SigError::Mismatch)
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes `%XX` escapes into bytes (invalid ones are kept as they are).
fn percent_decode_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes `%XX` escapes (invalid ones are kept as they are; invalid UTF-8 is replaced).
pub fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

/// The path as signed for `execute-api`, as the AWS SDKs (botocore, aws-sigv4) compute it:
/// the path as sent, with `.`/`..` and empty segments removed, encoded once more (every
/// service but S3 signs the path encoded twice).
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normal = format!("/{}", segments.join("/"));
    // RFC 3986 5.2.4, as aws-sigv4 does it: a path ending in a dot segment ends in a slash.
    let slash_end = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|end| path.ends_with(end));
    if slash_end && !normal.ends_with('/') {
        normal.push('/');
    }
    uri_encode(normal.as_bytes(), true)
}

/// Query parameters decoded as a form (`+` is a space), encoded, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let part = |s: &str| uri_encode(&percent_decode_bytes(&s.replace('+', " ")), false);
            (part(k), part(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `20261123T093000Z` as seconds since the epoch.
fn parse_amz_date(s: &str) -> Option<u64> {
    if s.len() != 16 || !s.is_ascii() || &s[8..9] != "T" || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, m, d, hh, mm, ss) = (
        n(0..4)?,
        n(4..6)?,
        n(6..8)?,
        n(9..11)?,
        n(11..13)?,
        n(13..15)?,
    );
    // Days from civil (Howard Hinnant), valid for the years that matter here.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20261123T093000Z"), Some(1_795_426_200));
        assert_eq!(parse_amz_date("2026-11-23"), None);
        // Sixteen bytes that are not sixteen characters.
        assert_eq!(parse_amz_date("2026112é093000Z"), None);
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(canonical_query("q=a+b&r=%C3"), "q=a%20b&r=%C3");
        assert_eq!(canonical_path("/api/v1/requests"), "/api/v1/requests");
        // As botocore and aws-sigv4 sign for execute-api: the sent path encoded again.
        assert_eq!(canonical_path("/a%20b"), "/a%2520b");
        assert_eq!(canonical_path("/q/%C3%A9!"), "/q/%25C3%25A9%21");
        assert_eq!(canonical_path("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(canonical_path("/a/b/."), "/a/b/");
        assert_eq!(canonical_path("/a/b/.."), "/a/");
        assert_eq!(canonical_path("/.."), "/");
        assert_eq!(canonical_path(""), "/");
    }

    #[test]
    fn refuses_without_or_with_a_broken_header() {
        let ids = [default_identity()];
        let headers = vec![("host".to_string(), "127.0.0.1:3000".to_string())];
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            verify(&req, &ids, "us-east-1", 0).err(),
            Some(SigError::Missing)
        );
        let headers = vec![("authorization".to_string(), "Bearer x".to_string())];
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert!(matches!(
            verify(&req, &ids, "us-east-1", 0),
            Err(SigError::Malformed(_))
        ));
    }
}
