//! Email through Amazon SES v2 (`SendEmail`, REST JSON, SigV4), from the stack's sender
//! address (a verified SES identity; without one email is off).

use super::{Notice, Sent};
use crate::aws_json::AwsJson;
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Email {
    ses: AwsJson,
    from: String,
}

impl Email {
    pub fn new(sdk: &crate::aws::SdkConfig, from: &str) -> Self {
        Self {
            ses: AwsJson::new(sdk, ("ses", "SESV2", "email"), Duration::from_secs(3)),
            from: from.trim().to_string(),
        }
    }

    pub async fn send(&self, to: &str, notice: &Notice) -> Sent {
        if self.from.is_empty() {
            return Sent::Off;
        }
        let body = json!({
            "FromEmailAddress": self.from,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Simple": {
                "Subject": {"Data": notice.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": notice.text, "Charset": "UTF-8"}},
            }},
        });
        match self.ses.post("/v2/email/outbound-emails", &body).await {
            Ok(_) => Sent::Sent,
            Err(e) => Sent::Failed(format!("SES to {to}: {e}")),
        }
    }
}
