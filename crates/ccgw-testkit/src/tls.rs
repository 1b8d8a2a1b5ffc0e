//! A certificate authority made inside the test, and server TLS configurations from it.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

#[cfg(feature = "ca")]
/// A throw-away CA (the simulator's [`ccgw_sim::Ca`]): its PEM goes to the client as a
/// trust root; it signs server certificates for the test server.
#[derive(Debug)]
pub struct TestCa(ccgw_sim::Ca);

/// What setting up TLS for a test can fail with.
pub type TlsError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(feature = "ca")]
impl TestCa {
    /// A new CA named `ccgw test CA`.
    pub fn new() -> Result<Self, rcgen::Error> {
        ccgw_sim::Ca::new("ccgw test CA").map(TestCa)
    }

    /// The CA certificate as PEM, for a client's `ca_pem`.
    pub fn pem(&self) -> &str {
        self.0.pem()
    }

    /// A server configuration with a certificate for `names` (DNS names or IP
    /// addresses), valid for a year.
    pub fn server_config(&self, names: &[&str]) -> Result<rustls::ServerConfig, TlsError> {
        self.0
            .server_config(names, false, rustls::crypto::ring::default_provider())
    }

    /// Like [`server_config`](Self::server_config), on another crypto provider.
    pub fn server_config_on(
        &self,
        names: &[&str],
        provider: rustls::crypto::CryptoProvider,
    ) -> Result<rustls::ServerConfig, TlsError> {
        self.0.server_config(names, false, provider)
    }

    /// A client configuration (HTTP/1.1) that trusts this CA only, on `provider`.
    pub fn client_config(
        &self,
        provider: rustls::crypto::CryptoProvider,
    ) -> Result<rustls::ClientConfig, TlsError> {
        client_config_trusting(self.pem(), provider)
    }

    /// A server configuration whose certificate expired years ago.
    pub fn expired_server_config(&self, names: &[&str]) -> Result<rustls::ServerConfig, TlsError> {
        self.0
            .server_config(names, true, rustls::crypto::ring::default_provider())
    }
}

/// A client configuration (HTTP/1.1) that trusts only the certificates in `ca_pem`, on
/// `provider`.
pub fn client_config_trusting(
    ca_pem: &str,
    provider: rustls::crypto::CryptoProvider,
) -> Result<rustls::ClientConfig, Box<dyn std::error::Error + Send + Sync>> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
