//! The process's HTTPS client for JIRA and GitHub, built when first used. Building one reads
//! the system's trust store (hundreds of certificate files), which is most of what a cold
//! start would otherwise spend: no function needs it before an event asks for JIRA or GitHub,
//! and every client of a process shares the one (its connections and TLS setup included).

use std::sync::{Arc, OnceLock};

/// A `reqwest::Client`, built on first use and shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct Https(Arc<OnceLock<reqwest::Client>>);

static SHARED: OnceLock<Https> = OnceLock::new();

impl Https {
    /// The process-wide client.
    pub fn shared() -> Self {
        SHARED.get_or_init(Https::default).clone()
    }

    /// The client, built now if this is its first use.
    pub fn client(&self) -> &reqwest::Client {
        self.0.get_or_init(reqwest::Client::new)
    }
}

impl From<reqwest::Client> for Https {
    fn from(client: reqwest::Client) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(client);
        Self(Arc::new(cell))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_client_built_on_first_use() {
        let a = Https::default();
        let b = a.clone();
        assert!(a.0.get().is_none(), "nothing built before first use");
        let _ = b.client();
        assert!(a.0.get().is_some());
        assert!(Arc::ptr_eq(&Https::shared().0, &Https::shared().0));
    }
}
