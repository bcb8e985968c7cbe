//! TLS for `tcp://` hosts, as Docker does it (`--tlsverify`).
//!
//! Docker protects a daemon on TCP with *mutual* TLS: one certificate
//! authority (`ca.pem`) signs the daemon's certificate (`server-cert.pem`,
//! whose names must include the address clients dial) and each client's
//! (`cert.pem`, with the `clientAuth` extended key usage). Then:
//!
//! 1. the client opens a TCP connection and sends a ClientHello;
//! 2. the daemon shows its certificate; the client checks that the CA signed
//!    it and that it names the host in `-H` (an IP address or a DNS name);
//! 3. the daemon asks for the client's certificate (`--tlsverify`) and
//!    checks that the same CA signed it; without one, or with one from
//!    another CA, the handshake ends with an alert and no HTTP is read;
//! 4. HTTP then flows inside the encrypted channel, unchanged: the Engine
//!    API, and the hijacked streams of attach and exec after their `101`.
//!
//! `--tls` without `--tlsverify` skips step 2's check (the channel is
//! encrypted, but anyone in the middle can pose as the daemon), as the
//! docker CLI does; a daemon started with `--tls` skips step 3.
//!
//! The crypto is rustls (ring). What the client and the daemon share
//! (reading PEM files, where Docker looks for them: `DOCKER_CERT_PATH`,
//! default `~/.docker`) is `mini_docker_api::tls`. This module is the
//! client's blocking TLS stream, [`TlsStream`], which two threads can use at once (one reads
//! the container's output, one writes its input).

pub use mini_docker_api::tls::{cert_dir, provider, read_certs, read_key, roots};
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The client's TLS settings, from its flags and environment.
#[derive(Debug, Clone, Default)]
pub struct TlsFlags {
    /// `--tls`: TLS without checking the daemon's certificate.
    pub tls: bool,
    /// `--tlsverify` (or `DOCKER_TLS_VERIFY` set and not empty).
    pub verify: bool,
    /// `--tlscacert`.
    pub cacert: Option<PathBuf>,
    /// `--tlscert`.
    pub cert: Option<PathBuf>,
    /// `--tlskey`.
    pub key: Option<PathBuf>,
}

impl TlsFlags {
    /// The rustls configuration, or `None` without `--tls` or `--tlsverify`.
    ///
    /// As the docker CLI: with `--tlsverify` the CA is `--tlscacert` or
    /// `ca.pem` in the cert directory, and the daemon's certificate must be
    /// signed by it and name the host dialled. With `--tls` alone the
    /// channel is encrypted but the daemon is not checked (its certificate
    /// is accepted whoever signed it; the CA flag is not used). Either way
    /// the client certificate is `--tlscert`/`--tlskey`, or
    /// `cert.pem`/`key.pem` there when both exist (a daemon started with
    /// `--tlsverify` refuses a client without one).
    pub fn config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        let verify =
            self.verify || std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
        if !verify && !self.tls {
            return Ok(None);
        }
        let dir = cert_dir();
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if verify {
            let ca = self.cacert.clone().unwrap_or_else(|| dir.join("ca.pem"));
            builder.with_root_certificates(roots(&ca)?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(SkipVerify(provider())))
        };
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => (Some(c.clone()), Some(k.clone())),
            (None, None) => {
                let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
                if c.exists() && k.exists() {
                    (Some(c), Some(k))
                } else {
                    (None, None)
                }
            }
            _ => return Err("--tlscert and --tlskey go together: give both".into()),
        };
        let config = match (cert, key) {
            (Some(c), Some(k)) => builder
                .with_client_auth_cert(read_certs(&c)?, read_key(&k)?)
                .map_err(|e| format!("{} and {} do not match: {e}", c.display(), k.display()))?,
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(Arc::new(config)))
    }
}

/// `--tls` without `--tlsverify`, or a context's `skip-tls-verify=true`
/// (Docker's `InsecureSkipVerify`): any daemon certificate is accepted (the
/// connection is encrypted but the daemon is not authenticated), while the
/// handshake's signatures are still checked with the provider's algorithms.
#[derive(Debug)]
pub struct SkipVerify(pub Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A blocking TLS connection to the daemon. Clones share the session, so
/// one thread can read while another writes (hijacked streams).
#[derive(Clone)]
pub struct TlsStream {
    session: Arc<Mutex<rustls::ClientConnection>>,
    tcp: Arc<TcpStream>,
}

fn tls_error(e: rustls::Error) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, TlsError(e))
}

/// A failed TLS exchange; its text says so, since rustls's does not always,
/// and what to do about the usual causes.
#[derive(Debug)]
pub struct TlsError(pub rustls::Error);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        write!(f, "TLS: {}", self.0)?;
        let hint = match &self.0 {
            E::AlertReceived(A::CertificateRequired) => {
                "the daemon wants a client certificate signed by its CA: put cert.pem and key.pem in DOCKER_CERT_PATH, or give --tlscert and --tlskey"
            }
            E::AlertReceived(A::UnknownCA | A::BadCertificate | A::DecryptError) => {
                "the daemon does not accept our client certificate: use one its CA signed (`mini-docker system certs` makes a matching set)"
            }
            E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
                "the daemon's certificate is not signed by our CA: check --tlscacert (or ca.pem in DOCKER_CERT_PATH)"
            }
            E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                "dial the daemon by a name its certificate lists, or remake it with `mini-docker system certs --hostname NAME`"
            }
            _ => return Ok(()),
        };
        write!(f, " ({hint})")
    }
}

impl std::error::Error for TlsError {}

impl TlsStream {
    /// Shakes hands over `tcp` with the daemon named `host` (checked against
    /// its certificate).
    pub fn connect(
        config: Arc<rustls::ClientConfig>,
        host: &str,
        mut tcp: TcpStream,
    ) -> std::io::Result<TlsStream> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{host} is not a host name or address a certificate can name"),
            )
        })?;
        let mut session = rustls::ClientConnection::new(config, name).map_err(tls_error)?;
        while session.is_handshaking() {
            session.complete_io(&mut tcp).map_err(|e| {
                match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(t) => tls_error(t.clone()),
                    None => e,
                }
            })?;
        }
        Ok(TlsStream {
            session: Arc::new(Mutex::new(session)),
            tcp: Arc::new(tcp),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, rustls::ClientConnection> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends what the session has queued (records, alerts).
    fn send(&self, s: &mut rustls::ClientConnection) -> std::io::Result<()> {
        while s.wants_write() {
            s.write_tls(&mut &*self.tcp)?;
        }
        Ok(())
    }

    /// Ends our direction with a `close_notify` alert (TLS's half-close):
    /// the daemon reads EOF, and its output keeps coming.
    pub fn close_write(&self) {
        let mut s = self.lock();
        s.send_close_notify();
        let _ = self.send(&mut s);
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            {
                let mut s = self.lock();
                match s.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    // The daemon closed without close_notify: the HTTP
                    // framing already says whether anything is missing.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            // Wait for records without holding the session, so that a
            // writer on another thread is not blocked meanwhile.
            let mut fds = [nix::poll::PollFd::new(
                self.tcp.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let mut s = self.lock();
            let n = s.read_tls(&mut &*self.tcp)?;
            let state = s.process_new_packets();
            // Alerts we owe the daemon go out even when the records were bad.
            let _ = self.send(&mut s);
            state.map_err(tls_error)?;
            if n == 0 {
                // EOF: the reader says next round whether it was clean.
                continue;
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut s = self.lock();
        let n = s.writer().write(buf)?;
        self.send(&mut s)?;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut s = self.lock();
        self.send(&mut s)
    }
}
