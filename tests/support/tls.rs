//! A certificate authority made inside the test, and server TLS configurations from it.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A throw-away CA: its PEM goes to the client as a trust root; it signs server
/// certificates for the test server.
pub struct TestCa {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA named `ccgw test CA`.
    pub fn new() -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "ccgw test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate as PEM, for `add_root_certificate_pem`.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server configuration with a certificate for `names` (DNS names or IP
    /// addresses), valid from yesterday for a year.
    pub fn server_config(
        &self,
        names: &[&str],
    ) -> Result<rustls::ServerConfig, Box<dyn std::error::Error>> {
        self.server_config_valid(names, None, rustls::crypto::ring::default_provider())
    }

    /// Like [`server_config`](Self::server_config), on another crypto provider.
    pub fn server_config_on(
        &self,
        names: &[&str],
        provider: rustls::crypto::CryptoProvider,
    ) -> Result<rustls::ServerConfig, Box<dyn std::error::Error>> {
        self.server_config_valid(names, None, provider)
    }

    /// A client configuration (HTTP/1.1) that trusts this CA only, on `provider`.
    pub fn client_config(
        &self,
        provider: rustls::crypto::CryptoProvider,
    ) -> Result<rustls::ClientConfig, Box<dyn std::error::Error + Send + Sync>> {
        client_config_trusting(&self.pem, provider)
    }

    /// A server configuration whose certificate expired a year ago.
    pub fn expired_server_config(
        &self,
        names: &[&str],
    ) -> Result<rustls::ServerConfig, Box<dyn std::error::Error>> {
        self.server_config_valid(
            names,
            Some((
                rcgen::date_time_ymd(2020, 1, 1),
                rcgen::date_time_ymd(2021, 1, 1),
            )),
            rustls::crypto::ring::default_provider(),
        )
    }

    fn server_config_valid(
        &self,
        names: &[&str],
        validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
        provider: rustls::crypto::CryptoProvider,
    ) -> Result<rustls::ServerConfig, Box<dyn std::error::Error>> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        if let Some((not_before, not_after)) = validity {
            params.not_before = not_before;
            params.not_after = not_after;
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let chain = vec![cert.der().clone(), self.der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
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
