//! IAM principals as PAO sees them: the caller's ARN (an assumed-role session's, or a user's),
//! the account it belongs to, the principal ARN IAM compares (`aws:PrincipalArn`), and ARN
//! patterns as IAM's `ArnLike` reads them. Operators and approvers are both named this way.

/// Whether the caller `caller_arn` is named by `pattern` (IAM `ArnLike`): as it is, or as its
/// role. An assumed-role session matches its role's ARN whatever the role's path: the gateway
/// compares `aws:PrincipalArn` (the role ARN with its path, such as IAM Identity Center's
/// `role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_…`), while the function sees only the
/// session ARN, which has no path; a role's name is unique in its account, so the pattern
/// without its path names the same role.
pub fn matches(pattern: &str, caller_arn: &str) -> bool {
    let principal = principal_arn(caller_arn);
    arn_like(pattern, caller_arn)
        || arn_like(pattern, &principal)
        || without_role_path(pattern).is_some_and(|q| arn_like(&q, &principal))
}

/// The account of an IAM or STS ARN (`arn:aws:sts::<account>:…`).
pub fn account_of(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some("iam" | "sts"), Some(_), Some(account))
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(account)
        }
        _ => None,
    }
}

/// `aws:PrincipalArn` of a caller: an assumed-role session's role ARN; others as they are.
pub fn principal_arn(caller_arn: &str) -> String {
    let Some(rest) = caller_arn.strip_prefix("arn:") else {
        return caller_arn.to_string();
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if let [partition, "sts", _, account, resource] = parts.as_slice() {
        if let Some(role) = resource.strip_prefix("assumed-role/") {
            let role = role.split('/').next().unwrap_or_default();
            return format!("arn:{partition}:iam::{account}:role/{role}");
        }
    }
    caller_arn.to_string()
}

/// A role ARN (or pattern) without its path: `arn:aws:iam::1:role/a/b/Name` →
/// `arn:aws:iam::1:role/Name`; `None` when it names no role or has no path.
pub fn without_role_path(arn: &str) -> Option<String> {
    let (head, rest) = arn.split_once(":role/")?;
    let (_, name) = rest.rsplit_once('/')?;
    Some(format!("{head}:role/{name}"))
}

/// IAM `ArnLike`: `*` matches any run, `?` one character. Greedy with one backtrack point
/// (the last `*`), so the work is at most pattern length × ARN length whatever the caller's
/// ARN: a recursive match would be exponential in the number of `*`.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), arn.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        if i < p.len() && (p[i] == b'?' || p[i] == s[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            // The last `*` takes one more character.
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == b'*')
}
