//! The simulator's own CA and server certificate, made at start (rcgen), so clients can
//! trust it properly instead of turning verification off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SimError;

pub(crate) struct Material {
    pub(crate) ca_pem: String,
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
}

/// A fresh CA and a server certificate for localhost, 127.0.0.1, ::1 and `extra_names`.
pub(crate) fn generate(extra_names: &[String]) -> Result<Material, SimError> {
    let ca = Ca::new("ccgw-sim CA").map_err(|e| SimError::Tls(e.to_string()))?;
    let mut names = vec!["localhost", "127.0.0.1", "::1"];
    names.extend(extra_names.iter().map(String::as_str));
    let config = ca
        .server_config(&names, false, rustls::crypto::ring::default_provider())
        .map_err(|e| SimError::Tls(e.to_string()))?;
    Ok(Material {
        ca_pem: ca.pem().to_owned(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    })
}

/// A certificate authority made on the spot (rcgen): the simulator's own, and the
/// tests' (through `ccgw-testkit`). Its PEM goes to clients as their trust root; it
/// signs server certificates.
pub struct Ca {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// A new CA whose common name is `name`.
    pub fn new(name: &str) -> Result<Ca, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate as PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server configuration (HTTP/1.1 only: the gateway speaks it, and `Set-GUID`'s
    /// capitalisation depends on it) with a certificate for `names` (DNS names or IP
    /// addresses) and this CA, on `provider`. `expired`: valid in 2020 only; otherwise
    /// from now on, for a year.
    pub fn server_config(
        &self,
        names: &[&str],
        expired: bool,
        provider: rustls::crypto::CryptoProvider,
    ) -> Result<rustls::ServerConfig, Box<dyn std::error::Error + Send + Sync>> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
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

/// Writes `ca.pem` into `dir` (created if needed).
pub(crate) fn write_ca(dir: &Path, pem: &str) -> Result<PathBuf, SimError> {
    std::fs::create_dir_all(dir).map_err(|e| SimError::CertDir(dir.to_path_buf(), e))?;
    let file = dir.join("ca.pem");
    std::fs::write(&file, pem).map_err(|e| SimError::CertDir(dir.to_path_buf(), e))?;
    Ok(file)
}
