//! `build`, `commit` and `history`.
//!
//! `build` is mostly the client's job of *sending the context*: it walks
//! the context directory, leaves out what `.dockerignore` names
//! ([`crate::build::ignore`]), tars the rest and posts it to `/build`; the
//! daemon does the rest and streams its progress back as JSON lines.

use super::format;
use super::http::{self, Body, Client};
use super::util;
use super::Failure;
use mini_docker_api::ignore::Matcher;
use serde_json::Value;
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};

fn fail(m: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: m.into(),
    }
}

/// Flags of `build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the 'name:tag' format (repeatable).
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: 'PATH/Dockerfile').
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Do not use cache when building the image.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Suppress the build output and print image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Always remove intermediate containers.
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Set the networking mode for the RUN instructions during build.
    #[arg(long = "network")]
    pub network: Option<String>,
    /// The build context directory.
    pub context: String,
}

/// Tars `context` into `out`, leaving out what `m` excludes (the
/// Dockerfile and `.dockerignore` are always sent). Returns the names sent.
pub fn tar_context<W: std::io::Write>(
    context: &Path,
    m: &Matcher,
    keep: &[String],
    b: &mut tar::Builder<W>,
) -> std::io::Result<Vec<String>> {
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    let mut sent = Vec::new();
    fn walk(
        root: &Path,
        rel: &str,
        m: &Matcher,
        keep: &[String],
        b: &mut tar::Builder<impl std::io::Write>,
        sent: &mut Vec<String>,
    ) -> std::io::Result<()> {
        let dir = root.join(rel);
        let mut names: Vec<String> = std::fs::read_dir(&dir)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let r = if rel.is_empty() {
                n
            } else {
                format!("{rel}/{n}")
            };
            let full = root.join(&r);
            let meta = std::fs::symlink_metadata(&full)?;
            let excluded = m.excluded(&r) && !keep.contains(&r);
            if meta.is_dir() {
                if !excluded {
                    b.append_path_with_name(&full, &r)?;
                    sent.push(r.clone());
                }
                if !excluded || m.has_exceptions() {
                    walk(root, &r, m, keep, b, sent)?;
                }
            } else if !excluded {
                b.append_path_with_name(&full, &r)?;
                sent.push(r);
            }
        }
        Ok(())
    }
    walk(context, "", m, keep, b, &mut sent)?;
    Ok(sent)
}

/// `build`.
pub fn build(c: &Client, a: BuildArgs) -> Result<u8, Failure> {
    let context = PathBuf::from(&a.context);
    if !context.is_dir() {
        return Err(fail(format!(
            "unable to prepare context: path {:?} not found",
            a.context
        )));
    }
    let m = Matcher::load(&context).map_err(fail)?;
    // The Dockerfile: inside the context it is named by its path there;
    // outside, it is added to the tar under a name of its own.
    let df_path = match &a.file {
        Some(f) if f == "-" => {
            return Err(fail("reading the Dockerfile from stdin is not supported"))
        }
        Some(f) => PathBuf::from(f),
        None => context.join("Dockerfile"),
    };
    let abs = |p: &Path| std::fs::canonicalize(p);
    let ctx_abs = abs(&context)?;
    let df_abs = abs(&df_path).map_err(|e| {
        fail(format!(
            "unable to prepare context: {}: {e}",
            df_path.display()
        ))
    })?;
    let mut extra: Option<(String, Vec<u8>)> = None;
    let df_name = match df_abs.strip_prefix(&ctx_abs) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => {
            let name = format!(".dockerfile.{}", &util::new_id()[..20]);
            extra = Some((name.clone(), std::fs::read(&df_abs)?));
            name
        }
    };
    let mut tmp = tempfile::tempfile()?;
    {
        let keep = vec![df_name.clone(), ".dockerignore".to_string()];
        let w = std::io::BufWriter::new(&mut tmp);
        let mut b = tar::Builder::new(w);
        // The context, then (maybe) the outside Dockerfile.
        tar_context(&context, &m, &keep, &mut b).map_err(|e| fail(e.to_string()))?;
        if let Some((name, bytes)) = &extra {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, bytes.as_slice())?;
        }
        b.into_inner()?
            .into_inner()
            .map_err(|e| fail(e.to_string()))?;
    }
    let len = tmp.stream_position()?;
    tmp.rewind()?;
    if !a.quiet {
        println!(
            "Sending build context to Docker daemon  {}",
            util::human_size(len)
        );
    }
    let mut q = format!("/build?dockerfile={}&rm=1", http::enc(&df_name));
    for t in &a.tags {
        q.push_str(&format!("&t={}", http::enc(t)));
    }
    if !a.build_args.is_empty() {
        let mut m = serde_json::Map::new();
        for kv in &a.build_args {
            match kv.split_once('=') {
                Some((k, v)) => m.insert(k.into(), Value::String(v.into())),
                None => m.insert(
                    kv.clone(),
                    std::env::var(kv).map(Value::String).unwrap_or(Value::Null),
                ),
            };
        }
        q.push_str(&format!(
            "&buildargs={}",
            http::enc(&Value::Object(m).to_string())
        ));
    }
    if a.no_cache {
        q.push_str("&nocache=1");
    }
    if let Some(t) = &a.target {
        q.push_str(&format!("&target={}", http::enc(t)));
    }
    if a.quiet {
        q.push_str("&q=1");
    }
    if a.force_rm {
        q.push_str("&forcerm=1");
    }
    if let Some(n) = &a.network {
        q.push_str(&format!("&networkmode={}", http::enc(n)));
    }
    let resp = c.call(
        "POST",
        &q,
        Body::Reader(Box::new(tmp), len, "application/x-tar"),
    )?;
    let mut id = String::new();
    for line in std::io::BufReader::new(resp.body).lines() {
        let line = line.map_err(|e| fail(e.to_string()))?;
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        if let Some(e) = v["error"].as_str() {
            return Err(fail(e.to_string()));
        }
        if let Some(i) = v["aux"]["ID"].as_str() {
            id = i.to_string();
        }
        if let (Some(st), false) = (v["status"].as_str(), a.quiet) {
            // A base image being pulled.
            let line = match v["id"].as_str() {
                Some(id) => format!("{id}: {st}\n"),
                None => format!("{st}\n"),
            };
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(line.as_bytes()).and_then(|_| o.flush());
        }
        if let Some(s) = v["stream"].as_str() {
            if !a.quiet {
                // A closed stdout (`| head`) ends the output, not the build.
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(s.as_bytes()).and_then(|_| o.flush());
            }
        }
    }
    if a.quiet {
        println!("{id}");
    }
    if id.is_empty() {
        return Err(fail("the daemon ended the build without an image id"));
    }
    Ok(0)
}

/// `commit`.
pub fn commit(
    c: &Client,
    container: &str,
    reference: Option<&str>,
    message: Option<&str>,
    changes: &[String],
    author: Option<&str>,
) -> Result<u8, Failure> {
    let mut q = format!("/commit?container={}", http::enc(container));
    if let Some(r) = reference {
        let (repo, tag) = super::images::split_ref(r);
        q.push_str(&format!("&repo={}&tag={}", http::enc(repo), http::enc(tag)));
    }
    if let Some(m) = message {
        q.push_str(&format!("&comment={}", http::enc(m)));
    }
    if let Some(a) = author {
        q.push_str(&format!("&author={}", http::enc(a)));
    }
    for ch in changes {
        q.push_str(&format!("&changes={}", http::enc(ch)));
    }
    let v = c
        .call("POST", &q, Body::Json(serde_json::json!({})))?
        .json()?;
    println!("{}", v["Id"].as_str().unwrap_or(""));
    Ok(0)
}

/// Flags of `history`.
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format (default true).
    #[arg(long = "human", default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// The image.
    pub image: String,
}

/// Docker's `stringutils.Ellipsis`: at most `n` characters, `…` included.
fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The rows of `history`, as the template sees them.
pub fn history_rows(list: &Value, no_trunc: bool, human: bool, now: i64) -> Vec<Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or("");
            let id = if no_trunc || id == "<missing>" {
                id.to_string()
            } else {
                id.trim_start_matches("sha256:").chars().take(12).collect()
            };
            let created = h["Created"].as_i64().unwrap_or(0);
            let by = h["CreatedBy"].as_str().unwrap_or("").replace('\t', " ");
            let by = if no_trunc { by } else { ellipsis(&by, 45) };
            let size = h["Size"].as_u64().unwrap_or(0);
            serde_json::json!({
                "ID": id,
                "CreatedSince": if human { format!("{} ago", util::human_duration(now - created)) } else { util::rfc3339_nanos(created * 1_000_000_000) },
                "CreatedAt": util::rfc3339_nanos(created * 1_000_000_000),
                "CreatedBy": by,
                "Size": if human { util::human_size(size) } else { size.to_string() },
                "Comment": h["Comment"].as_str().unwrap_or(""),
            })
        })
        .collect()
}

/// `history`.
pub fn history(c: &Client, a: HistoryArgs) -> Result<u8, Failure> {
    let list = c
        .call("GET", &format!("/images/{}/history", a.image), Body::Empty)?
        .json()?;
    let rows = history_rows(
        &list,
        a.no_trunc,
        a.human,
        util::now_nanos() / 1_000_000_000,
    );
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or(""));
        }
        return Ok(0);
    }
    if let Some(t) = &a.format {
        for r in &rows {
            println!("{}", format::render(t, r).map_err(fail)?);
        }
        return Ok(0);
    }
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                s(r, "ID"),
                s(r, "CreatedSince"),
                s(r, "CreatedBy"),
                s(r, "Size"),
                s(r, "Comment"),
            ]
        })
        .collect();
    print!(
        "{}",
        format::table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &table
        )
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_table_like_docker() {
        let list = serde_json::json!([
            {"Id": "sha256:0123456789abcdef0123", "Created": 1000, "CreatedBy": "/bin/sh -c #(nop)  CMD [\"sh\"]", "Size": 0, "Comment": ""},
            {"Id": "<missing>", "Created": 940, "CreatedBy": "/bin/sh -c echo a very long command that will not fit in the column", "Size": 1234567, "Comment": "made by hand"},
        ]);
        let rows = history_rows(&list, false, true, 1060);
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"]
                    .iter()
                    .map(|k| r[*k].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .collect();
        insta::assert_snapshot!(format::table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &table
        ));
    }

    #[test]
    fn context_tar_honours_dockerignore() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for f in [
            "Dockerfile",
            "a.txt",
            "b.log",
            "keep.log",
            "dir/x",
            "dir/keep/y",
        ] {
            std::fs::create_dir_all(p.join(f).parent().unwrap()).unwrap();
            std::fs::write(p.join(f), f).unwrap();
        }
        std::fs::write(
            p.join(".dockerignore"),
            "*.log\n!keep.log\ndir\n!dir/keep\nDockerfile\n",
        )
        .unwrap();
        let m = Matcher::load(p).unwrap();
        let keep = vec!["Dockerfile".to_string(), ".dockerignore".to_string()];
        let sent = tar_context(p, &m, &keep, &mut tar::Builder::new(Vec::new())).unwrap();
        assert_eq!(
            sent,
            vec![
                ".dockerignore",
                "Dockerfile",
                "a.txt",
                "dir/keep",
                "dir/keep/y",
                "keep.log"
            ]
        );
    }
}
