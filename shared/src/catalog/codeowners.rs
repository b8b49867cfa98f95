//! CODEOWNERS, resolved as GitHub resolves it: gitignore-style patterns, the last matching
//! line wins, and a matching line without owners leaves the path unowned.
//!
//! GitHub looks for the file in `.github/`, the repository root and `docs/`, in that order.

use regex::Regex;
use std::path::Path;

/// Where GitHub looks for CODEOWNERS, first found wins.
pub const LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    regex: Regex,
    owners: Vec<String>,
}

/// Parsed CODEOWNERS rules.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    rules: Vec<Rule>,
}

/// A line that could not be used, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl CodeOwners {
    /// Parses CODEOWNERS text; lines that cannot be used are skipped and reported (as GitHub
    /// skips them).
    pub fn parse(text: &str) -> (Self, Vec<LineError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let Some(pattern) = words.next() else {
                continue;
            };
            let owners: Vec<String> = words
                .take_while(|w| !w.starts_with('#'))
                .map(str::to_string)
                .collect();
            if let Some(bad) = owners
                .iter()
                .find(|o| !o.starts_with('@') && !o.contains('@'))
            {
                errors.push(LineError {
                    line: n + 1,
                    message: format!("owner {bad:?} is neither @user, @org/team nor an email"),
                });
                continue;
            }
            match to_regex(pattern) {
                Ok(regex) => rules.push(Rule {
                    pattern: pattern.to_string(),
                    regex,
                    owners,
                }),
                Err(message) => errors.push(LineError {
                    line: n + 1,
                    message,
                }),
            }
        }
        (Self { rules }, errors)
    }

    /// Reads the first CODEOWNERS found in `root` (none: no owners).
    pub fn read(root: &Path) -> std::io::Result<(Self, Vec<LineError>, Option<&'static str>)> {
        for location in LOCATIONS {
            let path = root.join(location);
            if path.is_file() {
                let text = std::fs::read_to_string(&path)?;
                let (owners, errors) = Self::parse(&text);
                return Ok((owners, errors, Some(location)));
            }
        }
        Ok((Self::default(), Vec::new(), None))
    }

    /// The owners of `path` (relative to the repository root, `/`-separated).
    pub fn owners_of(&self, path: &str) -> &[String] {
        self.rule_for(path)
            .map(|r| r.owners.as_slice())
            .unwrap_or(&[])
    }

    /// The pattern of the rule that decides `path`, if any.
    pub fn matching_pattern(&self, path: &str) -> Option<&str> {
        self.rule_for(path).map(|r| r.pattern.as_str())
    }

    /// The last rule that matches: the one GitHub applies.
    fn rule_for(&self, path: &str) -> Option<&Rule> {
        let path = path.trim_start_matches('/');
        self.rules.iter().rev().find(|r| r.regex.is_match(path))
    }
}

/// A CODEOWNERS pattern as an anchored regex over a repository-relative path.
fn to_regex(pattern: &str) -> Result<Regex, String> {
    if pattern.starts_with('!') {
        return Err("negated patterns (!) are not supported by CODEOWNERS".into());
    }
    if pattern.contains('[') || pattern.contains(']') {
        return Err("character ranges ([...]) are not supported by CODEOWNERS".into());
    }
    let dir_only = pattern.ends_with('/');
    let trimmed = pattern.trim_end_matches('/');
    // A slash at the start or in the middle anchors the pattern at the root; otherwise it
    // matches at any depth.
    let anchored = trimmed.contains('/');
    let body = trimmed.trim_start_matches('/');
    if body.is_empty() {
        return Err("empty pattern".into());
    }
    let mut re = String::from("^");
    if !anchored && body != "*" {
        re.push_str("(?:.*/)?");
    }
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                let slash_after = chars.get(i + 2) == Some(&'/');
                if slash_after {
                    re.push_str("(?:.*/)?");
                    i += 3;
                } else {
                    re.push_str(".*");
                    i += 2;
                }
                continue;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    // `docs/*` owns the files directly in docs/ only; any other pattern that names a
    // directory owns everything below it.
    if body.ends_with("/*") {
        re.push('$');
    } else if dir_only {
        re.push_str("/.*$");
    } else {
        re.push_str("(?:/.*)?$");
    }
    Regex::new(&re).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples of GitHub's CODEOWNERS documentation.
    const GITHUB_EXAMPLE: &str = r#"
# This is a comment.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
"#;

    fn owners(path: &str) -> Vec<String> {
        let (c, errors) = CodeOwners::parse(GITHUB_EXAMPLE);
        assert!(errors.is_empty(), "{errors:?}");
        c.owners_of(path).to_vec()
    }

    #[test]
    fn last_matching_pattern_wins() {
        assert_eq!(owners("README.md"), ["@global-owner1", "@global-owner2"]);
        assert_eq!(owners("src/app.js"), ["@js-owner"]);
        assert_eq!(owners("main.go"), ["docs@example.com"]);
        assert_eq!(owners("notes/a.txt"), ["@octo-org/octocats"]);
        assert_eq!(owners("build/logs/x.log"), ["@octocat"]); // **/logs comes later
        assert_eq!(owners("scripts/run.sh"), ["@doctocat", "@octocat"]);
        assert_eq!(owners("deeply/nested/logs/x"), ["@octocat"]);
    }

    #[test]
    fn directory_patterns() {
        // `docs/*` matches docs/getting-started.md but `/docs/` later wins for the root docs.
        assert_eq!(owners("docs/getting-started.md"), ["@doctocat"]);
        // `apps/` matches at any depth.
        assert_eq!(owners("x/apps/y.rb"), ["@octocat"]);
        // A matching line without owners leaves the path unowned.
        assert!(owners("apps/github/x.rb").is_empty());
        assert_eq!(owners("apps/other.rb"), ["@octocat"]);
    }

    #[test]
    fn star_slash_matches_one_level_only() {
        let (c, _) = CodeOwners::parse("* @a\ndocs/* @b\n");
        assert_eq!(c.owners_of("docs/x.md"), ["@b"]);
        assert_eq!(c.owners_of("docs/deep/x.md"), ["@a"]);
        assert_eq!(c.matching_pattern("docs/x.md"), Some("docs/*"));
    }

    #[test]
    fn catalog_style_rules() {
        let (c, _) = CodeOwners::parse(
            "*  @acme/pao-team\n/catalog/database/ @acme/team-database\ncatalog/**/redis-*.yaml @acme/team-cache\n",
        );
        assert_eq!(
            c.owners_of("catalog/database/aurora.yaml"),
            ["@acme/team-database"]
        );
        assert_eq!(
            c.owners_of("catalog/x/redis-cache.yaml"),
            ["@acme/team-cache"]
        );
        assert_eq!(
            c.owners_of("catalog/redis-cache.yaml"),
            ["@acme/team-cache"]
        );
        assert_eq!(c.owners_of("bundles/x.yaml"), ["@acme/pao-team"]);
    }

    #[test]
    fn unusable_lines_are_reported() {
        let (_, errors) = CodeOwners::parse("!x @a\n[ab] @a\nok nobody\n");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 3]);
    }
}
