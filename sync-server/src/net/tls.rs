//! HTTPS in the server itself: the certificate chain and key of `tls_cert`
//! and `tls_key` (PEM), served with rustls (the *ring* provider, the one the
//! clients' reqwest already uses) over HTTP/1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

/// Why TLS cannot be set up. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of the two files is configured.
    #[error(
        "只配置了 tls_cert 或 tls_key 之一：请同时给出证书和私钥 (PEM) / only one of tls_cert and \
         tls_key is set: give both the certificate chain and its private key (PEM files)"
    )]
    Half,
    /// The certificate file cannot be read or holds no certificate.
    #[error(
        "无法读取证书 {path}：{reason} / cannot read the certificate {path}: {reason} — \
         tls_cert must be a PEM file starting with -----BEGIN CERTIFICATE-----"
    )]
    Cert {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file cannot be read or holds no key.
    #[error(
        "无法读取私钥 {path}：{reason} / cannot read the private key {path}: {reason} — \
         tls_key must be a PEM file with one PKCS#8, PKCS#1 or SEC1 private key"
    )]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refuses the pair (e.g. the key does not belong to the certificate).
    #[error(
        "证书与私钥不匹配或不受支持：{0} / the certificate and key cannot be used together: {0} — \
         check that tls_key is the key of tls_cert"
    )]
    Pair(rustls::Error),
}

/// The TLS acceptor of `config`, or `None` when it configures no TLS.
pub fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, TlsError> {
    let (cert, key) = match (&config.tls_cert, &config.tls_key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => return Err(TlsError::Half),
    };
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Pair)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Pair)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let failed = |reason: String| TlsError::Cert {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| failed(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(e.to_string()))?;
    if chain.is_empty() {
        return Err(failed("no certificate in the file".to_owned()));
    }
    Ok(chain)
}
