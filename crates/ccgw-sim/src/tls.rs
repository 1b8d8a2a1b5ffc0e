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

/// The CA's name.
const CA_NAME: &str = "ccgw-sim CA";
/// The CA's key, kept beside `ca.pem` so that a restart keeps the CA clients trust.
const CA_KEY: &str = "ca-key.pem";

/// A server certificate for localhost, 127.0.0.1, ::1 and `extra_names`, signed by the
/// CA of `cert_dir` (its `ca.pem` and key, kept from an earlier start) or a new one
/// (written there, the key readable by its owner only).
pub(crate) fn generate(
    extra_names: &[String],
    cert_dir: Option<&Path>,
) -> Result<(Material, Option<PathBuf>), SimError> {
    let tls = |e: rcgen::Error| SimError::Tls(e.to_string());
    let kept = cert_dir.and_then(|dir| {
        let pem = std::fs::read_to_string(dir.join("ca.pem")).ok()?;
        let key = std::fs::read_to_string(dir.join(CA_KEY)).ok()?;
        Some((dir, pem, KeyPair::from_pem(&key).ok()?))
    });
    let (ca, ca_file) = match (kept, cert_dir) {
        (Some((dir, pem, key)), _) => {
            // The same name and key: a client trusting the kept `ca.pem` trusts it.
            let mut ca = Ca::with_key(CA_NAME, key).map_err(tls)?;
            ca.pem = pem;
            (ca, Some(dir.join("ca.pem")))
        }
        (None, Some(dir)) => {
            let ca = Ca::new(CA_NAME).map_err(tls)?;
            let file = write_ca(dir, ca.pem(), &ca.issuer.key().serialize_pem())?;
            (ca, Some(file))
        }
        (None, None) => (Ca::new(CA_NAME).map_err(tls)?, None),
    };
    let mut names = vec!["localhost", "127.0.0.1", "::1"];
    names.extend(extra_names.iter().map(String::as_str));
    let config = ca
        .server_config(&names, false, rustls::crypto::ring::default_provider())
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let material = Material {
        ca_pem: ca.pem().to_owned(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    Ok((material, ca_file))
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
        Ca::with_key(name, KeyPair::generate()?)
    }

    /// A CA whose common name is `name`, with `key`.
    fn with_key(name: &str, key: KeyPair) -> Result<Ca, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
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

/// Writes `ca.pem` and the CA's key into `dir` (created if needed); the key readable
/// by its owner only.
fn write_ca(dir: &Path, pem: &str, key: &str) -> Result<PathBuf, SimError> {
    let failed = |e| SimError::CertDir(dir.to_path_buf(), e);
    std::fs::create_dir_all(dir).map_err(failed)?;
    let key_file = dir.join(CA_KEY);
    let _ = std::fs::remove_file(&key_file);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    std::io::Write::write_all(
        &mut options.open(&key_file).map_err(failed)?,
        key.as_bytes(),
    )
    .map_err(failed)?;
    let file = dir.join("ca.pem");
    std::fs::write(&file, pem).map_err(failed)?;
    Ok(file)
}
