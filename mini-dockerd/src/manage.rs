//! # Managing containers that exist: restart, rename, top, prune
//!
//! - `restart` is `stop` (SIGTERM, SIGKILL after `t`) then `start`.
//! - `rename` changes the record's name under the same lock that `create`
//!   checks names with, so two containers never share one.
//! - `top` is what `docker top` does: the daemon reads the container's
//!   processes from its cgroup (`cgroup.procs` of `/mini-docker/<id>`), runs
//!   the host's `ps` with the caller's `ps_args`, and keeps the rows whose
//!   PID column is one of them (`cat /sys/fs/cgroup/pids/mini-docker/<id>/cgroup.procs`,
//!   then `ps -ef`).
//! - `prune` removes every container that is not running, as
//!   `docker container prune`.

use super::{spec, ApiError, Engine, Result};
use serde_json::{json, Value};
use std::path::Path;

/// Where the cgroup hierarchies are mounted on the host.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The processes in the container's cgroup, read from the first hierarchy
/// under `cgroup_root` that has it (pids, memory, then cgroup v2).
pub fn cgroup_pids(cgroup_root: &Path, id: &str) -> Vec<i32> {
    cgroup_pids_at(cgroup_root, &spec::cgroups_path(id))
}

/// Like [`cgroup_pids`], for a cgroup path (`--cgroup-parent` moves it).
pub fn cgroup_pids_at(cgroup_root: &Path, rel: &str) -> Vec<i32> {
    let rel = rel.trim_start_matches('/');
    for tree in ["pids", "memory", "cpu", "unified", ""] {
        let file = cgroup_root.join(tree).join(rel).join("cgroup.procs");
        if let Ok(text) = std::fs::read_to_string(&file) {
            let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !pids.is_empty() {
                return pids;
            }
        }
    }
    vec![]
}

/// Keeps the rows of `ps` output whose PID column is in `pids`; returns
/// Docker's `{"Titles": [...], "Processes": [[...], ...]}`.
pub fn filter_ps(output: &str, pids: &[i32]) -> Result<Value> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or("");
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_col = titles.iter().position(|t| *t == "PID").ok_or_else(|| {
        ApiError::internal("Couldn't find PID field in ps output (give ps_args with a PID column)")
    })?;
    let mut procs = Vec::new();
    for line in lines {
        // The last column (CMD) may contain spaces: split into the titles' count.
        let fields: Vec<String> = split_n(line, titles.len());
        let pid: i32 = match fields.get(pid_col).and_then(|p| p.parse().ok()) {
            Some(p) => p,
            None => continue,
        };
        if pids.contains(&pid) {
            procs.push(fields);
        }
    }
    Ok(json!({"Titles": titles, "Processes": procs}))
}

/// Splits on whitespace into at most `n` fields, the last one keeping the rest.
fn split_n(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while out.len() + 1 < n {
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => break,
        }
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

impl Engine {
    /// `POST /containers/{id}/rename?name=`.
    pub fn rename(&self, key: &str, new: &str) -> Result<()> {
        let new = new.trim_start_matches('/');
        if new.is_empty() {
            return Err(ApiError::bad("Neither old nor new names may be empty"));
        }
        let c = self.find(key)?;
        let old_name = c.name.clone();
        if !super::util::valid_name(new) {
            return Err(ApiError::bad(format!(
                "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let c = {
            let mut map = self.lock();
            if let Some(other) = map.values().find(|o| o.name == new) {
                if other.id == c.id {
                    return Err(ApiError::bad(
                        "Renaming a container with the same name as its current name",
                    ));
                }
                return Err(ApiError::conflict(format!(
                    "Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                )));
            }
            let x = map
                .get_mut(&c.id)
                .ok_or_else(|| ApiError::not_found(format!("No such container: {key}")))?;
            x.name = new.to_string();
            x.clone()
        };
        self.persist(&c);
        let old = format!("/{}", old_name);
        self.emit(&c, "rename", &[("oldName", old)]);
        self.changed.notify_waiters();
        self.refresh_hosts();
        Ok(())
    }

    /// `POST /containers/{id}/restart?t=`: stop (if running), then start.
    pub async fn restart(self: &std::sync::Arc<Self>, key: &str, t: Option<i64>) -> Result<()> {
        let c = self.find(key)?;
        // A `--rm` container is restarted, not removed, as with Docker.
        if let Ok(mut r) = self.restarting.lock() {
            r.insert(c.id.clone());
        }
        let stopped = self.stop(&c.id, t).await;
        let started = match stopped {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_modified() => Ok(()),
            Err(e) => Err(e),
        };
        let started = match started {
            Ok(()) => {
                self.user_started(&c.id);
                let me = self.clone();
                let id = c.id.clone();
                tokio::task::spawn_blocking(move || me.start(&id))
                    .await
                    .map_err(|e| ApiError::internal(crate::errors::chain(&e)))
                    .and_then(|r| r)
                    .or_else(|e| if e.is_not_modified() { Ok(()) } else { Err(e) })
            }
            Err(e) => Err(e),
        };
        if let Ok(mut r) = self.restarting.lock() {
            r.remove(&c.id);
        }
        if started.is_ok() {
            // Docker's last event of a restart, after stop's and start's.
            self.emit(&c, "restart", &[]);
        }
        started
    }

    /// `GET /containers/{id}/top?ps_args=` (blocking: it runs `ps`).
    pub fn top(&self, key: &str, ps_args: &str, cgroup_root: &Path) -> Result<Value> {
        let c = self.find(key)?;
        if !c.state.running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let pids = cgroup_pids_at(cgroup_root, &c.cgroups_path());
        let args: Vec<&str> = if ps_args.trim().is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| ApiError::internal(format!("run ps {}: {e}", args.join(" "))))?;
        if !out.status.success() {
            return Err(ApiError::internal(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }

    /// `POST /containers/prune`: removes every container that is not running.
    pub fn prune_containers(&self) -> Result<Value> {
        let stopped: Vec<String> = self
            .lock()
            .values()
            .filter(|c| !c.state.running && c.state.status != "removing")
            .map(|c| c.id.clone())
            .collect();
        let mut deleted = Vec::new();
        let mut space = 0u64;
        for id in stopped {
            let size = dir_size(&self.opts.root.join("layers").join(format!("md-{id}")));
            if self.remove(&id, false).is_ok() {
                deleted.push(id);
                space += size;
            }
        }
        Ok(json!({"ContainersDeleted": deleted, "SpaceReclaimed": space}))
    }
}

impl Engine {
    /// `POST /images/prune`. Without `all` (Docker's default,
    /// `dangling=true`) only the dangling images *made here* go (by `build`
    /// or `commit`: untagged, nothing builds on them, see `lineage`), with
    /// the untagged images below them; a pulled or imported image *is* its
    /// names in `images.json`, so one that lost its last name is gone from
    /// the list, never dangling. With `all`
    /// (`filters={"dangling":["false"]}`, `image prune -a`) every image no
    /// container uses is removed, as `rmi` does. `SpaceReclaimed` stays 0:
    /// `image prune -a`: every image no container uses, blobs and layers freed.
    pub fn prune_images(&self, all: bool) -> Result<Value> {
        let mut deleted = Vec::new();
        let mut space = 0;
        if all {
            for tag in self.images.tags().into_keys() {
                // An image a container uses keeps all its names.
                match self.images.resolve(&tag) {
                    Ok(img) if self.image_users(img.config_digest.as_ref()).is_empty() => {}
                    _ => continue,
                }
                let users = |d: &str| self.image_users(d);
                let layers = || self.container_layers();
                if let Ok(r) = self.images.remove(&tag, false, &users, &layers) {
                    if let Value::Array(out) = r.answer {
                        deleted.extend(out);
                    }
                    space += r.freed;
                }
            }
        }
        // Dangling images made here (untagged, nothing builds on them).
        let tagged: std::collections::BTreeSet<String> = self.images.tags().into_values().collect();
        let keep = |i: &str| !self.image_users(i).is_empty();
        let layers = self.container_layers();
        for (id, made) in super::lineage::dangling(&self.opts.root, &tagged) {
            if keep(&id) {
                continue;
            }
            let before = super::lineage::all(&self.opts.root);
            if let Ok(gone) = super::lineage::forget_chain(&self.opts.root, &id, &tagged, &keep) {
                for g in &gone {
                    let manifest = before
                        .get(g)
                        .map(|m| m.manifest.clone())
                        .unwrap_or_else(|| made.manifest.clone());
                    if let Ok(img) = self.images.resolve_manifest(&manifest) {
                        space += self.images.collect(&img, &layers).bytes;
                    }
                }
                deleted.extend(gone.into_iter().map(|g| json!({"Deleted": g})));
            }
        }
        Ok(json!({"ImagesDeleted": deleted, "SpaceReclaimed": space}))
    }
}

impl Engine {
    /// `GET /system/df`: images with how many containers use them,
    /// containers with the bytes of their read-write layer.
    pub fn disk_usage(&self) -> Value {
        let mut images = self.images.list();
        let mut layers = 0u64;
        for i in images.as_array_mut().into_iter().flatten() {
            let id = i["Id"].as_str().unwrap_or("").to_string();
            i["Containers"] = json!(self.image_users(&id).len());
            layers += i["Size"].as_u64().unwrap_or(0);
        }
        let containers: Vec<Value> = self
            .list()
            .iter()
            .map(|c| {
                let mut v = c.summary();
                v["SizeRw"] = json!(dir_size(&self.opts.root.join("layers").join(&c.layer)));
                v
            })
            .collect();
        json!({"LayersSize": layers, "Images": images, "Containers": containers,
               "Volumes": self.volumes_df(), "BuildCache": []})
    }
}

/// Bytes of the regular files under `dir` (a container's rw layer).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_are_filtered_by_pid_and_cmd_keeps_spaces() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                  root           1       0  0 10:00 ?        00:00:01 /sbin/init\n\
                  root         420     400  0 10:01 ?        00:00:00 sleep 1000\n";
        let v = filter_ps(ps, &[420]).unwrap();
        assert_eq!(v["Titles"][1], "PID");
        assert_eq!(v["Processes"].as_array().unwrap().len(), 1);
        assert_eq!(v["Processes"][0][7], "sleep 1000");
        assert!(filter_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn pids_come_from_the_containers_cgroup() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("pids/mini-docker/abc");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cgroup.procs"), "12\n34\n").unwrap();
        assert_eq!(cgroup_pids(root.path(), "abc"), vec![12, 34]);
        assert!(cgroup_pids(root.path(), "other").is_empty());
    }
}
