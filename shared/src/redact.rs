//! What a target's answer may show once it is quoted in an error (a task's error, an
//! escalation ticket, an API answer): every form in which PAO sent that target a secret is
//! blanked, and the quote is cut short, on one line.

/// How much of a target's answer an error message quotes.
pub const QUOTED: usize = 200;

/// A target's text as an error may quote it: every form in which PAO sent it a secret
/// blanked (before the cut, so that a secret at the cut cannot leave its first half), cut to
/// [`QUOTED`] characters, on one line.
pub fn quote(text: &str, secrets: &[&str]) -> String {
    let blanked = blank(text, secrets);
    let mut quoted: String = blanked.chars().take(QUOTED).collect();
    if blanked.chars().count() > QUOTED {
        quoted.push('…');
    }
    quoted.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` with every form in which PAO sends a secret (as it is, base64 as in Basic
/// credentials, URL-encoded, JSON-escaped; the password of `user:password` too) blanked.
pub fn blank(text: &str, secrets: &[&str]) -> String {
    let mut blanked = text.to_string();
    for form in secret_forms(secrets) {
        blanked = blanked.replace(&form, "********");
    }
    blanked
}

fn secret_forms(secrets: &[&str]) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut forms = Vec::new();
    for s in secrets {
        let mut values = vec![s.to_string()];
        if let Some((_, password)) = s.split_once(':') {
            values.push(password.to_string());
        }
        for v in values {
            forms.push(STANDARD.encode(v.as_bytes()));
            forms.push(
                STANDARD
                    .encode(v.as_bytes())
                    .trim_end_matches('=')
                    .to_string(),
            );
            forms.push(URL_SAFE_NO_PAD.encode(v.as_bytes()));
            forms.push(crate::signing::uri_encode(v.as_bytes(), false));
            let json = serde_json::to_string(&v).unwrap_or_default();
            forms.push(json.trim_matches('"').to_string());
            forms.push(v);
        }
    }
    forms.retain(|f| f.len() >= 4);
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms
}
