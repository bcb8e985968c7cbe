//! Chapter 06's registry server, in this process, on a free port of
//! 127.0.0.1: what `push`, `pull` and `login` talk to.

use std::path::Path;

/// Chapter 06's registry on a free port of 127.0.0.1, stopped on drop.
pub struct Registry {
    _dir: tempfile::TempDir,
    server: Option<registry::server::RunningServer>,
    rt: tokio::runtime::Runtime,
}

impl Registry {
    /// Anonymous access.
    pub fn start() -> Registry {
        Self::serve(registry::server::AuthMode::None)
    }

    /// Basic auth with one htpasswd user.
    pub fn with_user(user: &str, password: &str) -> Registry {
        let line = registry::auth::Htpasswd::entry(user, password, 4).unwrap();
        let users = registry::auth::Htpasswd::parse(&line).unwrap();
        Self::serve(registry::server::AuthMode::Basic(users))
    }

    fn serve(auth: registry::server::AuthMode) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("md-registry-")
            .tempdir()
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = registry::server::ServerConfig {
            root: dir.path().to_path_buf(),
            auth,
        };
        let server = rt
            .block_on(registry::server::spawn(config, "127.0.0.1:0"))
            .unwrap();
        Registry {
            _dir: dir,
            server: Some(server),
            rt,
        }
    }

    /// Where the registry keeps its files (`blobs/`, `ingest/`, `repositories/`).
    pub fn root(&self) -> &Path {
        self._dir.path()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.server.as_ref().unwrap().host()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}
