//! The client's TLS configuration: rustls with the `ring` provider, verified against
//! the system's roots, the configured CA certificates, or both.
//!
//! `ring` rather than rustls's default `aws-lc-rs`: its build takes seconds where
//! aws-lc-rs's C build takes minutes, and `cargo xtask bench` measures both providers
//! in the same run (handshakes and CPU per request; README, "Performance").

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The crypto provider every TLS connection of this crate uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why the trust roots cannot be used.
#[derive(Debug)]
pub(crate) enum RootsError {
    /// Neither the system's roots nor a CA certificate.
    None,
    /// The PEM held no `BEGIN CERTIFICATE` block.
    Empty,
    /// The PEM could not be read.
    Pem(rustls::pki_types::pem::Error),
    /// rustls refused a root or the system's store.
    Rustls(rustls::Error),
}

/// The certificates of a PEM bundle (one or more `BEGIN CERTIFICATE` blocks).
pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, RootsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(RootsError::Pem)?;
    if certs.is_empty() {
        return Err(RootsError::Empty);
    }
    Ok(certs)
}

/// A client configuration that trusts the system's roots (through the platform's
/// verifier), `roots`, or both; TLS 1.2 and 1.3, HTTP/1.1 only.
pub(crate) fn client_config(
    system_roots: bool,
    roots: Vec<CertificateDer<'static>>,
) -> Result<ClientConfig, RootsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(RootsError::Rustls)?;
    let mut config = match (system_roots, roots.is_empty()) {
        (false, true) => return Err(RootsError::None),
        (false, false) => {
            let mut store = rustls::RootCertStore::empty();
            for root in roots {
                store.add(root).map_err(RootsError::Rustls)?;
            }
            builder.with_root_certificates(store).with_no_client_auth()
        }
        (true, _) => {
            let verifier =
                rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider)
                    .map_err(RootsError::Rustls)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
