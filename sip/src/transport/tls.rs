//! TLS configs for SIP over TLS (RFC 3261 §26.2.1), on rustls with the ring provider.
//!
//! Only TLS 1.2 and 1.3 are offered (rustls has nothing older, which is what
//! we want). No ALPN. The crypto provider is passed explicitly, so nothing
//! depends on a process-wide default provider being installed.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::TransportError;

/// The CA bundle used by [`client_config`] when no file is given.
pub const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

const VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server config from PEM files (certificate chain, private key), or a
/// self-signed cert for `names` when `files` is None. TLS 1.2 and 1.3 only.
/// With `client_ca`, client certificates are required and verified against it.
pub fn server_config(
    files: Option<(&Path, &Path)>,
    client_ca: Option<&Path>,
    names: &[String],
) -> Result<Arc<ServerConfig>, TransportError> {
    served_config(files, client_ca, names).map(|(config, _)| config)
}

/// [`server_config`], with the end of the served certificate's validity (its
/// `notAfter`, Unix seconds; `None` when its DER does not parse, which rustls
/// then reports on the first handshake).
pub fn served_config(
    files: Option<(&Path, &Path)>,
    client_ca: Option<&Path>,
    names: &[String],
) -> Result<(Arc<ServerConfig>, Option<i64>), TransportError> {
    let (chain, key) = match files {
        Some((cert, key)) => (load_certs(cert)?, load_key(key)?),
        None => {
            let (cert, key) = self_signed(names)?;
            (vec![cert], key)
        }
    };
    let not_after = chain.first().and_then(not_after);
    let client_roots = client_ca.map(load_roots).transpose()?;
    Ok((server_config_from(chain, key, client_roots)?, not_after))
}

/// A certificate's `notAfter` in Unix seconds.
pub fn not_after(cert: &CertificateDer<'_>) -> Option<i64> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(parsed.validity().not_after.timestamp())
}

/// Server config from an in-memory chain and key; `client_roots` turns on
/// mandatory client certificates (mutual TLS).
pub fn server_config_from(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, TransportError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_protocol_versions(VERSIONS)?;
    let builder = match client_roots {
        Some(roots) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(builder.with_single_cert(chain, key)?))
}

/// Client config trusting the PEM bundle at `ca_file` (default:
/// [`DEFAULT_CA_BUNDLE`] if present, else nothing, so every server is refused).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TransportError> {
    let roots = match ca_file {
        Some(path) => load_roots(path)?,
        None if Path::new(DEFAULT_CA_BUNDLE).exists() => load_roots(Path::new(DEFAULT_CA_BUNDLE))?,
        None => {
            tracing::warn!(
                bundle = DEFAULT_CA_BUNDLE,
                "no CA bundle: outbound TLS will trust no server"
            );
            RootCertStore::empty()
        }
    };
    client_config_from(roots)
}

/// Client config trusting exactly `roots`, without a client certificate.
pub fn client_config_from(roots: RootCertStore) -> Result<Arc<ClientConfig>, TransportError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A fresh self-signed certificate (DER) and its PKCS#8 key for `names`
/// (DNS names or IP addresses; `localhost` when empty).
pub fn self_signed(
    names: &[String],
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TransportError> {
    let names = if names.is_empty() {
        vec!["localhost".to_owned()]
    } else {
        names.to_vec()
    };
    let certified = rcgen::generate_simple_self_signed(names)?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((certified.cert.der().clone(), PrivateKeyDer::Pkcs8(key)))
}

fn open(path: &Path) -> Result<BufReader<File>, TransportError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| pem_error(path, source))
}

fn pem_error(path: &Path, source: std::io::Error) -> TransportError {
    TransportError::Pem {
        path: PathBuf::from(path),
        source,
    }
}

/// All certificates of a PEM file, in order (leaf first for a chain).
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| pem_error(path, source))?;
    if certs.is_empty() {
        return Err(TransportError::NoCertificate { path: path.into() });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TransportError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|source| pem_error(path, source))?
        .ok_or_else(|| TransportError::NoPrivateKey { path: path.into() })
}

/// A root store from a PEM bundle. Unparsable certificates in a system bundle
/// are skipped (as browsers do), but a bundle yielding none is an error.
fn load_roots(path: &Path) -> Result<RootCertStore, TransportError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(load_certs(path)?);
    if added == 0 {
        return Err(TransportError::NoCertificate { path: path.into() });
    }
    Ok(roots)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("voxgate-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn self_signed_server_config_builds() {
        let cfg =
            server_config(None, None, &["127.0.0.1".into(), "sip.example.com".into()]).unwrap();
        assert!(cfg.alpn_protocols.is_empty());
    }

    #[test]
    fn the_served_certificates_not_after_is_read() {
        let dir = temp_dir("expiry");
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 1, 2);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        let (_, not_after) = served_config(Some((&c, &k)), None, &[]).unwrap();
        assert_eq!(not_after, Some(1_925_078_400), "2031-01-02T00:00:00Z");
        // The self-signed one has an end too.
        let (_, own) = served_config(None, None, &["localhost".into()]).unwrap();
        assert!(own.is_some_and(|t| t > 1_700_000_000));
    }

    #[test]
    fn pem_files_round_trip() {
        let dir = temp_dir("pem");
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        server_config(Some((&cert, &key)), Some(&cert), &[]).unwrap();
        client_config(Some(&cert)).unwrap();
        // Swapped files: the cert file has no key and vice versa.
        assert!(matches!(
            server_config(Some((&key, &cert)), None, &[]),
            Err(TransportError::NoCertificate { .. })
        ));
        assert!(matches!(
            server_config(Some((&cert, &cert)), None, &[]),
            Err(TransportError::NoPrivateKey { .. })
        ));
        assert!(matches!(
            client_config(Some(&dir.join("missing.pem"))),
            Err(TransportError::Pem { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
