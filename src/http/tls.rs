//! HTTPS with rustls: `WRISTBAND_TLS_CERT` (a PEM certificate chain, leaf
//! first) and `WRISTBAND_TLS_KEY` (its PEM private key). TLS 1.2 and 1.3,
//! the ring provider, HTTP/1.1 only (as plain HTTP serves).

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server configuration of the certificate chain in `cert` and the key
/// in `key`; the error says which file is wrong and why.
pub fn server_config(cert: &str, key: &str) -> Result<ServerConfig, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read WRISTBAND_TLS_CERT {cert}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("WRISTBAND_TLS_CERT {cert} holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read WRISTBAND_TLS_KEY {key}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("WRISTBAND_TLS_CERT and WRISTBAND_TLS_KEY do not fit: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
