//! `mini-docker system certs DIR` (ours): the certificates for a daemon on
//! TCP with `--tlsverify`, in the file names Docker's documentation uses.
//!
//! Docker's guide ("Protect the Docker daemon socket") does this with a
//! dozen `openssl` commands; here rcgen does the same in four steps:
//!
//! 1. a CA: a key pair and a self-signed certificate with `CA:true` that may
//!    sign certificates (`ca.pem`, its key `ca-key.pem`);
//! 2. the daemon's certificate, signed by the CA, for the names clients will
//!    dial (`--host`, DNS names or IP addresses) and the `serverAuth` usage
//!    (`server-cert.pem`, `server-key.pem`);
//! 3. a client certificate, signed by the CA, with the `clientAuth` usage
//!    (`cert.pem`, `key.pem`);
//! 4. the files, keys readable by their owner only (mode 0600).
//!
//! The daemon needs `ca.pem`, `server-cert.pem` and `server-key.pem`; a
//! client needs `ca.pem`, `cert.pem` and `key.pem` (its `DOCKER_CERT_PATH`).

use super::Failure;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `system certs`.
#[derive(clap::Args, Debug)]
pub struct CertsArgs {
    /// A name or IP address the daemon is reached by (repeatable); default
    /// this machine's hostname and 127.0.0.1. (Not `--host`: that is the
    /// global `-H`.)
    #[arg(long = "hostname")]
    pub hosts: Vec<String>,
    /// How many days the certificates are valid.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// The directory to write (made if missing; existing files are kept).
    pub dir: PathBuf,
}

fn fail(message: String) -> Failure {
    Failure { code: 1, message }
}

/// The files, in the order written; keys are 0600.
const FILES: [(&str, bool); 6] = [
    ("ca.pem", false),
    ("ca-key.pem", true),
    ("server-cert.pem", false),
    ("server-key.pem", true),
    ("cert.pem", false),
    ("key.pem", true),
];

/// Makes the CA, the server and the client certificates in `a.dir`.
pub fn certs(a: &CertsArgs) -> Result<u8, Failure> {
    let hosts = if a.hosts.is_empty() {
        let mut h = Vec::new();
        if let Ok(name) = nix::unistd::gethostname() {
            h.push(name.to_string_lossy().into_owned());
        }
        h.push("127.0.0.1".to_string());
        h
    } else {
        a.hosts.clone()
    };
    std::fs::create_dir_all(&a.dir)
        .map_err(|e| fail(format!("create {}: {e}", a.dir.display())))?;
    for (name, _) in FILES {
        let p = a.dir.join(name);
        if p.exists() {
            return Err(fail(format!(
                "{} exists: certs never overwrites (a new CA would lock out every client of the old one); remove the files or pick another directory",
                p.display()
            )));
        }
    }
    let pems = make(&hosts, a.days).map_err(|e| fail(format!("make the certificates: {e}")))?;
    let mut written = Vec::new();
    for ((name, secret), pem) in FILES.iter().zip(pems) {
        let p = a.dir.join(name);
        if let Err(e) = write_new(&p, &pem, *secret) {
            // Leave no half set behind.
            for w in written {
                let _ = std::fs::remove_file(w);
            }
            return Err(fail(format!("write {}: {e}", p.display())));
        }
        written.push(p);
    }
    let d = a.dir.display();
    println!(
        "Wrote a CA, a server certificate for {} and a client certificate in {d}.",
        hosts.join(", ")
    );
    println!("On the daemon: mini-dockerd --tlsverify --tlscacert {d}/ca.pem --tlscert {d}/server-cert.pem --tlskey {d}/server-key.pem -H tcp://0.0.0.0:2376");
    println!("On a client, copy ca.pem, cert.pem and key.pem, then: export DOCKER_HOST=tcp://HOST:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=DIR");
    println!("Keep ca-key.pem private: whoever has it can make client certificates.");
    Ok(0)
}

fn write_new(path: &Path, text: &str, secret: bool) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

fn params(common_name: &str, days: u32) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    // An hour of slack for clocks a little behind ours.
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(days.into());
    p
}

/// The six PEM texts, in the order of [`FILES`].
pub fn make(hosts: &[String], days: u32) -> Result<Vec<String>, rcgen::Error> {
    // 1. The CA.
    let ca_key = KeyPair::generate()?;
    // A name of its own: a verifier looks up the issuer by name, so two CAs
    // named alike make a foreign client certificate a "bad signature"
    // rather than an "unknown authority".
    let mut ca = params(
        &format!("mini-docker CA {:08x}", rand::random::<u32>()),
        days,
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    // 2. The daemon: every name and address it is dialled by.
    let server_key = KeyPair::generate()?;
    let mut server = params(hosts.first().map_or("mini-dockerd", |h| h), days);
    server.subject_alt_names = hosts
        .iter()
        .map(|h| match h.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(rcgen::SanType::IpAddress(ip)),
            Err(_) => h.clone().try_into().map(rcgen::SanType::DnsName),
        })
        .collect::<Result<_, _>>()?;
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key)?;
    // 3. A client.
    let client_key = KeyPair::generate()?;
    let mut client = params("client", days);
    client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &ca_cert, &ca_key)?;
    Ok(vec![
        ca_cert.pem(),
        ca_key.serialize_pem(),
        server_cert.pem(),
        server_key.serialize_pem(),
        client_cert.pem(),
        client_key.serialize_pem(),
    ])
}
