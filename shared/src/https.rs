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
        self.0.get_or_init(|| {
            install_crypto();
            reqwest::Client::new()
        })
    }
}

/// A reqwest client builder with TLS ready: every reqwest client of `pao` starts here
/// ([`Https::client`], the outbound client of `action::http`).
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto();
    reqwest::Client::builder()
}

/// Makes rustls's ring provider the process default (the first call does; later ones find
/// it there). reqwest's clients take the process default and the functions link no other
/// TLS crypto (aws-lc cost each binary about 740 KB, with the SDK's), so this must come
/// before any client is built.
fn install_crypto() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Err only when another provider is already the default, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl From<reqwest::Client> for Https {
    fn from(client: reqwest::Client) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(client);
        Self(Arc::new(cell))
    }
}

/// Runs `connect` against `https://127.0.0.1:<port>` of a listener that never answers and
/// returns the first bytes the client sent it (for the tests: a TLS client starts with a
/// handshake record, 0x16 0x03).
#[cfg(test)]
pub(crate) fn first_bytes_to_a_listener<F, Fut>(connect: F) -> Vec<u8>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use tokio::io::AsyncReadExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("its address").port();
        let client = tokio::spawn(connect(format!("https://127.0.0.1:{port}")));
        let read = async {
            let (mut socket, _) = listener.accept().await.expect("a connection");
            let mut buf = [0u8; 3];
            socket.read_exact(&mut buf).await.expect("bytes");
            buf.to_vec()
        };
        let bytes = tokio::time::timeout(std::time::Duration::from_secs(20), read)
            .await
            .expect("the client connected and wrote within 20 s");
        client.abort();
        bytes
    })
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
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[test]
    fn the_client_speaks_tls() {
        let hello = first_bytes_to_a_listener(|url| async move {
            let _ = Https::shared().client().get(url).send().await;
        });
        assert_eq!(
            &hello[..2],
            &[0x16, 0x03],
            "a TLS handshake record: {hello:?}"
        );
    }
}
