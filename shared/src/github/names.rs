//! Names a rendered GitHub config puts into API paths, checked before any call: the
//! repository as `owner/name`, git refs by git's `check-ref-format` rules, and a workflow file
//! name (or numeric id). A rendered value is data: `r/../../other-org/prod` is not a
//! repository, and a ref is written into a path component by component, percent-encoded, so
//! even a character git allows (`%`, `#`) cannot change the path.

use crate::template::encode_component;
use std::fmt;

/// Longest ref name accepted (git itself stops near the file system's limit).
const MAX_REF: usize = 255;

/// A repository `owner/name` whose parts are GitHub account and repository names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    owner: String,
    name: String,
}

impl Repo {
    /// `field` names the config key in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{field} {s:?} {why}");
        let (owner, name) = s.split_once('/').ok_or_else(|| bad("is not owner/name"))?;
        // Accounts: letters, digits and hyphens, 39 at most, no leading hyphen (managed
        // users add `_shortcode`).
        let owner_ok = (1..=39).contains(&owner.len())
            && !owner.starts_with('-')
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !owner_ok {
            return Err(bad("has an owner that is not a GitHub account name"));
        }
        let name_ok = (1..=100).contains(&name.len())
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(bad("has a name that is not a GitHub repository name"));
        }
        Ok(Self {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A branch, tag or full ref name, by `git check-ref-format --allow-onelevel` (and not
/// starting with `-`, as `git branch` refuses).
pub fn check_ref(field: &str, name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_REF {
        Some("is too long")
    } else if name == "@" {
        Some("is `@`")
    } else if name.starts_with('-') {
        Some("starts with `-`")
    } else if name.contains("..") {
        Some("contains `..`")
    } else if name.contains("@{") {
        Some("contains `@{`")
    } else if name
        .chars()
        .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
    {
        Some("contains a space, a control character or one of ~ ^ : ? * [ \\")
    } else if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        Some("has an empty path component")
    } else if name.ends_with('.') {
        Some("ends with `.`")
    } else if name
        .split('/')
        .any(|c| c.starts_with('.') || c.ends_with(".lock"))
    {
        Some("has a component starting with `.` or ending with `.lock`")
    } else {
        None
    };
    match why {
        Some(why) => Err(format!("{field} {name:?} is not a git ref name: it {why}")),
        None => Ok(()),
    }
}

/// A checked ref as API path components (`feature/x` stays two components, each encoded).
pub fn ref_path(name: &str) -> String {
    name.split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// A workflow file name (`deploy.yml`, no directory) or a workflow id.
pub fn check_workflow(name: &str) -> Result<(), String> {
    let file = name
        .strip_suffix(".yml")
        .or_else(|| name.strip_suffix(".yaml"))
        .is_some_and(|stem| {
            !stem.is_empty()
                && !stem.starts_with('.')
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    let id = !name.is_empty() && name.len() <= 20 && name.bytes().all(|b| b.is_ascii_digit());
    if (file && name.len() <= 255) || id {
        Ok(())
    } else {
        Err(format!(
            "workflow {name:?} is not a workflow file name (deploy.yml, no directory) or id"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        let r = Repo::parse("repository", "acme-inc/infra.live_2").expect("valid");
        assert_eq!(r.to_string(), "acme-inc/infra.live_2");
        assert_eq!(r.owner(), "acme-inc");
        assert!(Repo::parse("repository", "acme/.github").is_ok());
        for bad in [
            "r/../../other-org/prod",
            "acme",
            "acme/",
            "/infra",
            "acme/infra/x",
            "acme/..",
            "acme/.",
            "-acme/infra",
            "acme/in fra",
            "acme/infra?x=1",
            "acme/infra#",
            "ac%2Fme/infra",
        ] {
            assert!(
                matches!(Repo::parse("repository", bad), Err(m) if m.starts_with("repository ")),
                "{bad}"
            );
        }
    }

    #[test]
    fn refs_follow_check_ref_format() {
        for ok in [
            "main",
            "feature/x-1",
            "refs/heads/main",
            "v1.2.3",
            "a%2e",
            "pao/req-1",
        ] {
            assert_eq!(check_ref("branch", ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "@",
            "-x",
            "a..b",
            "../../x",
            "a@{1}",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "/a",
            "a/",
            "a//b",
            "a.",
            ".a",
            "x/.hidden",
            "a.lock",
            "x/a.lock/y",
            "a\u{7f}",
            "a\nb",
        ] {
            assert!(check_ref("branch", bad).is_err(), "{bad:?}");
        }
        assert!(check_ref("branch", &"a".repeat(256)).is_err());
        assert_eq!(ref_path("feature/50%#x"), "feature/50%25%23x");
    }

    #[test]
    fn workflows() {
        for ok in ["deploy.yml", "ci.yaml", "release.prod.yml", "12345"] {
            assert_eq!(check_workflow(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            ".yml",
            "../deploy.yml",
            "x/deploy.yml",
            "deploy",
            "deploy.yml/../../x",
            "deploy.yml?x=1",
            "deploy yml.yml",
            "%2e%2e.yml",
        ] {
            assert!(check_workflow(bad).is_err(), "{bad:?}");
        }
    }
}
