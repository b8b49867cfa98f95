//! A caller's IAM tags, read from IAM (issue 27 groundwork: approvers, requesters and support
//! staff may be named by tag). API Gateway's IAM authorization checks `aws:PrincipalTag` in
//! its resource policy but hands the integration no tags, so PAO asks IAM itself: the tags of
//! the role a session assumed (`ListRoleTags`) or of the user (`ListUserTags`), spoken over
//! IAM's Query protocol (form-encoded, XML answers), SigV4-signed, cached a few minutes.
//!
//! What IAM cannot say, PAO cannot see: session tags (an identity provider's attributes for
//! access control, IAM Identity Center's included) and the tags of principals of other
//! accounts. Such callers are named by ARN pattern instead.

use aws_credential_types::provider::SharedCredentialsProvider;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How long a principal's tags are reused.
pub const KEEP: Duration = Duration::from_secs(300);
/// How long one IAM call may take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// IAM allows at most 50 tags per role or user: one page of 100 holds them all.
const MAX_ITEMS: &str = "100";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagError {
    /// IAM refused (the function's role may not read the tags) or the principal is unknown.
    #[error("IAM refused to list the tags of {principal}: {message}")]
    Refused { principal: String, message: String },
    #[error("IAM could not be asked: {0}")]
    Unreachable(String),
}

/// Tags read, by role or user, with when they were read.
type Kept = HashMap<String, (Instant, BTreeMap<String, String>)>;

/// Reads principals' tags from IAM.
pub struct PrincipalTags {
    endpoint: String,
    credentials: Option<SharedCredentialsProvider>,
    kept: tokio::sync::Mutex<Kept>,
}

impl std::fmt::Debug for PrincipalTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipalTags")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Whose tags a caller ARN has, as IAM names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// `assumed-role/<role>/<session>`: the role's tags.
    Role(String),
    /// `user/<path>/<name>`: the user's tags.
    User(String),
}

/// The role or user whose tags `caller_arn` carries in `account`, if IAM can say.
pub fn owner_of(caller_arn: &str) -> Option<(String, Owner)> {
    let account = crate::principal::account_of(caller_arn)?.to_string();
    let resource = caller_arn.splitn(6, ':').nth(5)?;
    if let Some(role) = resource.strip_prefix("assumed-role/") {
        let role = role.split('/').next().filter(|r| !r.is_empty())?;
        return Some((account, Owner::Role(role.to_string())));
    }
    if let Some(user) = resource.strip_prefix("user/") {
        let name = user.rsplit('/').next().filter(|n| !n.is_empty())?;
        return Some((account, Owner::User(name.to_string())));
    }
    None
}

impl PrincipalTags {
    /// A reader with the SDK configuration's endpoint and credentials (IAM is global: its
    /// endpoint is `https://iam.amazonaws.com`, region `us-east-1`).
    pub fn new(sdk: &crate::aws::SdkConfig) -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_IAM")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_string))
            .unwrap_or_else(|| "https://iam.amazonaws.com".into());
        Self {
            endpoint: format!("{}/", endpoint.trim_end_matches('/')),
            credentials: sdk.credentials_provider(),
            kept: Default::default(),
        }
    }

    /// The tags of the caller `caller_arn`: its role's or its user's, read from IAM (kept for
    /// [`KEEP`]). A principal of another account than `home_account` (the function's own), or
    /// one IAM names no tags for (the root, a federated user), has none as far as PAO can tell.
    pub async fn of(
        &self,
        caller_arn: &str,
        home_account: Option<&str>,
    ) -> Result<BTreeMap<String, String>, TagError> {
        let Some((account, owner)) = owner_of(caller_arn) else {
            return Ok(BTreeMap::new());
        };
        if home_account != Some(account.as_str()) {
            return Ok(BTreeMap::new());
        }
        let cache_key = format!("{owner:?}");
        if let Some((at, tags)) = self.kept.lock().await.get(&cache_key) {
            if at.elapsed() < KEEP {
                return Ok(tags.clone());
            }
        }
        let (action, param, name) = match &owner {
            Owner::Role(r) => ("ListRoleTags", "RoleName", r),
            Owner::User(u) => ("ListUserTags", "UserName", u),
        };
        let answer = match self
            .call(action, &[(param, name), ("MaxItems", MAX_ITEMS)])
            .await
        {
            Ok(answer) => answer,
            // A role or user IAM does not know (deleted since the session began) has no tags.
            Err(TagError::Refused { message, .. }) if message.contains(" NoSuchEntity:") => {
                String::new()
            }
            Err(TagError::Refused { message, .. }) => {
                return Err(TagError::Refused {
                    principal: caller_arn.to_string(),
                    message,
                });
            }
            Err(other) => return Err(other),
        };
        let tags = tags_in(&answer);
        let mut kept = self.kept.lock().await;
        kept.retain(|_, (at, _)| at.elapsed() < KEEP);
        kept.insert(cache_key, (Instant::now(), tags.clone()));
        Ok(tags)
    }

    /// One IAM Query action with its parameters; the answer's XML text. The local stack and
    /// the tests create and tag roles with it.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<String, TagError> {
        let mut form = vec![("Action", action), ("Version", "2010-05-08")];
        form.extend_from_slice(params);
        // Encoded as botocore encodes a Query body (a space is `+`), byte for byte what the
        // signature covers.
        let encode = |t: &str| crate::signing::uri_encode(t.as_bytes(), false).replace("%20", "+");
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let (status, text) = crate::signing::signed_post(
            (crate::https::Https::shared().client(), TIMEOUT),
            &self.endpoint,
            ("iam", "application/x-www-form-urlencoded; charset=utf-8"),
            "us-east-1",
            self.credentials.as_ref(),
            &[],
            body.into_bytes(),
        )
        .await
        .map_err(TagError::Unreachable)?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let code = element(&text, "Code").unwrap_or_default();
        let message = element(&text, "Message").unwrap_or_default();
        let message = format!("{status} {code}: {message}");
        if status >= 500 {
            Err(TagError::Unreachable(message))
        } else {
            Err(TagError::Refused {
                principal: params.first().map(|p| p.1.to_string()).unwrap_or_default(),
                message,
            })
        }
    }
}

/// The text of the first `<name>…</name>` in `xml`, unescaped.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape(&xml[start..end]))
}

/// `<Tags><member><Key>k</Key><Value>v</Value></member>…</Tags>` as a map.
fn tags_in(xml: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let Some(start) = xml.find("<Tags>") else {
        return tags;
    };
    let list = &xml[start
        ..xml[start..]
            .find("</Tags>")
            .map_or(xml.len(), |e| start + e)];
    for member in list.split("<member>").skip(1) {
        if let (Some(k), Some(v)) = (element(member, "Key"), element(member, "Value")) {
            tags.insert(k, v);
        }
    }
    tags
}

/// XML's five predefined entities and numeric references.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whose_tags_a_caller_carries() {
        assert_eq!(
            owner_of("arn:aws:sts::111122223333:assumed-role/DBA/dana@example.com"),
            Some(("111122223333".into(), Owner::Role("DBA".into())))
        );
        assert_eq!(
            owner_of("arn:aws:iam::111122223333:user/teams/data/omar"),
            Some(("111122223333".into(), Owner::User("omar".into())))
        );
        assert_eq!(owner_of("arn:aws:iam::111122223333:root"), None);
        assert_eq!(owner_of("arn:aws:sts::111122223333:federated-user/x"), None);
        assert_eq!(owner_of("not an arn"), None);
    }

    #[test]
    fn iams_xml_answers_are_read() {
        // The shape of IAM's ListRoleTags answer (Query protocol).
        let xml = r#"<ListRoleTagsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListRoleTagsResult><IsTruncated>false</IsTruncated>
    <Tags><member><Key>team</Key><Value>dba</Value></member>
          <member><Key>cost-center</Key><Value>R&amp;D &lt;42&gt; &#233;</Value></member></Tags>
  </ListRoleTagsResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</ListRoleTagsResponse>"#;
        let tags = tags_in(xml);
        assert_eq!(tags.get("team").map(String::as_str), Some("dba"));
        assert_eq!(
            tags.get("cost-center").map(String::as_str),
            Some("R&D <42> é")
        );
        assert!(tags_in("<ListRoleTagsResponse/>").is_empty());
        let error = r#"<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name X cannot be found.</Message></Error></ErrorResponse>"#;
        assert_eq!(element(error, "Code").as_deref(), Some("NoSuchEntity"));
        assert_eq!(unescape("a & b &bogus; &#xZZ;"), "a & b &bogus; &#xZZ;");
    }
}
