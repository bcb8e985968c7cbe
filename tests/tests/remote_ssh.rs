//! `-H ssh://user@host:port`: our client runs `ssh … mini-docker system
//! dial-stdio` and speaks the API through the channel, as the docker CLI
//! does. Against a real sshd (Debian's openssh-server, `scripts/setup.sh`)
//! started by the test on a 127.0.0.1 port of its own, with keys the test
//! makes. Privileged (the daemon and sshd need root).

use e2e::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A private sshd, killed on drop.
struct Sshd(std::process::Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn an_ssh_host_reaches_the_daemon_through_dial_stdio() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let dir = tempfile::Builder::new()
        .prefix("md-ssh-")
        .tempdir()
        .unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    keygen(&dir.path().join("host_key"));
    keygen(&dir.path().join("user_key"));
    // The far side finds our mini-docker on its PATH and the test daemon
    // in DOCKER_HOST, both set for this key only.
    let bin = Path::new(&cli_bin())
        .parent()
        .unwrap()
        .display()
        .to_string();
    let public = std::fs::read_to_string(p("user_key.pub")).unwrap();
    std::fs::write(
        p("authorized_keys"),
        format!(
            "environment=\"PATH={bin}:/usr/bin:/bin\",environment=\"DOCKER_HOST={}\" {public}",
            d.host()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        p("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nPermitUserEnvironment yes\n\
             StrictModes no\nPidFile none\n",
            p("host_key"),
            p("authorized_keys")
        ),
    )
    .unwrap();
    // sshd's privilege-separation directory, which the package's service would make.
    std::fs::create_dir_all("/run/sshd").unwrap();
    let log = std::fs::File::create(p("sshd.log")).unwrap();
    let _sshd = Sshd(
        Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f", &p("sshd_config")])
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    eventually("sshd to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // The client's ssh takes our key and does not ask about the host key:
    // an `ssh` first on PATH that adds a config file.
    std::fs::write(
        p("ssh_config"),
        format!(
            "IdentityFile {}\nIdentitiesOnly yes\nBatchMode yes\nStrictHostKeyChecking no\n\
             UserKnownHostsFile /dev/null\nLogLevel ERROR\n",
            p("user_key")
        ),
    )
    .unwrap();
    std::fs::create_dir(p("bin")).unwrap();
    std::fs::write(
        p("bin/ssh"),
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            p("ssh_config")
        ),
    )
    .unwrap();
    std::fs::set_permissions(p("bin/ssh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", p("bin"), std::env::var("PATH").unwrap_or_default());
    let host = format!("ssh://root@127.0.0.1:{port}");
    let mini = |args: &[&str], stdin: &[u8]| {
        let o = run_with_stdin(
            &cli_bin(),
            args,
            &[("DOCKER_HOST", &host), ("PATH", &path)],
            stdin,
        );
        assert!(
            o.status.success(),
            "mini-docker {args:?}: {}\nsshd: {}",
            String::from_utf8_lossy(&o.stderr),
            std::fs::read_to_string(p("sshd.log")).unwrap_or_default()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(mini(&["version"], b"").contains("API version:       1.41"));
    // A container made through ssh is the daemon's, seen on its socket.
    let id = mini(
        &["run", "-d", "--name", "md-ssh-c", "busybox", "sleep", "60"],
        b"",
    );
    assert!(d.ok(&["ps", "--no-trunc"]).contains(id.trim()));
    assert_eq!(
        mini(&["exec", "md-ssh-c", "echo", "via ssh"], b"").trim(),
        "via ssh"
    );
    // stdin through ssh and dial-stdio, EOF passed on as a half-close.
    assert_eq!(
        mini(
            &["run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z"],
            b"over ssh\n"
        ),
        "OVER SSH\n"
    );
}
