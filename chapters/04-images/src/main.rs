//! The chapter 04 tour: a busybox root filesystem becomes an OCI image,
//! document by document, then is unpacked again and run.
//!
//! `cargo run -p chapter04` (as root) for the tour;
//! `cargo run -p chapter04 -- inspect <layout dir | archive.tar>` to explain
//! an image someone else made; `import`, `save`, `load`, `unpack` for the
//! rest of `docker image`'s verbs over a local store.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chapter04::digest;
use chapter04::image::ImageStore;
use chapter04::import::{self, ImportOptions};
use chapter04::layer::{self, UnpackOptions};
use chapter04::media::Compression;
use chapter04::runtime::{self, RunOverrides};
use chapter04::{archive, inspect, layout, PlatformSpec};
use clap::{Parser, Subcommand, ValueEnum};

/// Images from the inside: content addressing, manifests, configs, layers.
/// Without a subcommand, runs the guided tour (needs root).
#[derive(Parser)]
#[command(name = "chapter04", version)]
struct Cli {
    /// The platform to choose from an index, os/arch[/variant].
    #[arg(long, global = true, default_value = "linux/amd64")]
    platform: String,
    /// The image store (blobs/, images.json).
    #[arg(long, global = true, default_value = "/var/tmp/chapter04-store")]
    store: PathBuf,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// The guided tour: build an image from busybox, write an OCI layout, unpack and run it.
    Tour {
        /// Keep the work directory (layout, layers) and print where it is.
        #[arg(long)]
        keep: bool,
    },
    /// Explain an image: an OCI layout directory, an OCI archive or a `docker save` tarball.
    Inspect {
        /// The layout directory or archive.
        path: PathBuf,
    },
    /// `docker import`: a root filesystem tarball becomes a one-layer image.
    Import {
        /// The tarball (plain, gzip or zstd).
        tarball: PathBuf,
        /// The name to give it.
        name: String,
        /// The default command.
        #[arg(long, num_args = 1..)]
        cmd: Vec<String>,
    },
    /// Write images from the store to an OCI layout or a docker-save tarball.
    Save {
        /// Output format.
        #[arg(long, value_enum, default_value = "oci")]
        format: Format,
        /// Output: a directory (oci) or a file (docker).
        #[arg(short, long)]
        output: PathBuf,
        /// Image names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Load an OCI layout, an OCI archive or a docker-save tarball into the store.
    Load {
        /// The layout directory or archive.
        path: PathBuf,
    },
    /// Unpack an image from the store into a new directory.
    Unpack {
        /// Image name or digest.
        name: String,
        /// The new directory.
        target: PathBuf,
        /// One directory per layer (overlay lowers) instead of one flat root.
        #[arg(long)]
        per_layer: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// OCI image layout (oci-layout, index.json, blobs/).
    Oci,
    /// `docker save` tarball.
    Docker,
}

fn main() -> ExitCode {
    // If this process is a re-exec'd container init, this runs it and never returns.
    chapter01::init_hook();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chapter04: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let platform: PlatformSpec = cli.platform.parse()?;
    match cli.cmd.unwrap_or(Cmd::Tour { keep: false }) {
        Cmd::Tour { keep } => tour(&platform, keep),
        Cmd::Inspect { path } => {
            print!(
                "{}",
                inspect::inspect(&path, Some(&platform))
                    .with_context(|| format!("inspect {}", path.display()))?
            );
            Ok(())
        }
        Cmd::Import { tarball, name, cmd } => {
            let store = ImageStore::open(&cli.store)?;
            let mut opts = ImportOptions {
                platform,
                ..Default::default()
            };
            if !cmd.is_empty() {
                opts.config.set_cmd(Some(cmd));
            }
            let f = File::open(&tarball).with_context(|| format!("open {}", tarball.display()))?;
            let imp = import::import_tarball(&store, f, &opts)?;
            store.tag(&name, &imp.manifest_digest)?;
            println!("{} {}", name, imp.config_digest);
            Ok(())
        }
        Cmd::Save {
            format,
            output,
            names,
        } => {
            let store = ImageStore::open(&cli.store)?;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            match format {
                Format::Oci => {
                    layout::save_oci_layout(&store, &names, &output)?;
                }
                Format::Docker => archive::save_docker_archive(&store, &names, &output)?,
            }
            println!("saved to {}", output.display());
            Ok(())
        }
        Cmd::Load { path } => {
            let store = ImageStore::open(&cli.store)?;
            for l in archive::load_any(&store, &path, "loaded", &platform)? {
                println!(
                    "Loaded image: {} (ID {})",
                    l.names.join(", "),
                    l.config_digest
                );
            }
            Ok(())
        }
        Cmd::Unpack {
            name,
            target,
            per_layer,
        } => {
            let store = ImageStore::open(&cli.store)?;
            let img = store.resolve(&name, Some(&platform))?;
            let reports = if per_layer {
                layer::unpack_per_layer(&store.blobs, &img, &target, &UnpackOptions::default())?
            } else {
                layer::unpack_flat(&store.blobs, &img, &target, &UnpackOptions::default())?
            };
            for r in &reports {
                println!(
                    "{} -> {} ({} entries)",
                    r.digest,
                    r.dir.display(),
                    r.stats.entries
                );
            }
            if per_layer {
                println!("{}", layer::lowerdir_option(&reports));
            }
            Ok(())
        }
    }
}

fn step(n: u32, title: &str) {
    println!("\n== {n}. {title}");
}

fn shell(cmd: &str) {
    println!("   $ {cmd}");
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}

/// The guided tour.
fn tour(platform: &PlatformSpec, keep: bool) -> Result<()> {
    if let Err(e) = chapter01::require_root("the chapter 04 tour") {
        bail!("{e}; `chapter04 inspect <path>` works without root");
    }
    let work = tempfile::Builder::new()
        .prefix("ch04-tour-")
        .tempdir()
        .context("create a work directory")?;
    let w = work.path();
    println!("Work directory: {}", w.display());

    step(1, "a root filesystem: busybox from chapter 01");
    let rootfs = chapter01::rootfs::build_busybox_rootfs(&w.join("rootfs"))
        .context("build the busybox rootfs")?;
    fs::write(
        rootfs.path.join("etc/motd"),
        "this file travelled inside an OCI image\n",
    )?;
    println!("   {} applets in {}", rootfs.applets, rootfs.path.display());

    step(
        2,
        "the layer: the rootfs as a tar (chapter 03's diff against nothing)",
    );
    shell("tar --numeric-owner -C rootfs -cf layer.tar .");
    let tar_path = w.join("layer.tar");
    chapter03::diff_against(None, &rootfs.path, File::create(&tar_path)?)
        .context("tar the rootfs")?;
    let tar_size = fs::metadata(&tar_path)?.len();
    let (diff_id, _) =
        digest::HashingReader::new(File::open(&tar_path)?, digest::Algorithm::Sha256).finish()?;
    shell("sha256sum layer.tar");
    println!("   {tar_size} bytes, diff ID {diff_id}");
    println!("   (the diff ID names the *uncompressed* content; it goes in the config)");

    step(
        3,
        "compress and hash: the layer blob enters the content-addressed store",
    );
    shell("gzip -n < layer.tar > layer.tar.gz && sha256sum layer.tar.gz");
    let store = ImageStore::open(&w.join("store"))?;
    let added = import::add_layer(&store, File::open(&tar_path)?, Compression::Gzip)?;
    assert_eq!(added.diff_id, diff_id);
    println!("   {} bytes, digest {}", added.size, added.digest);
    println!("   written to ingest/.tmpXXXX, hashed, fsync'ed, renamed to:");
    println!("   {}", store.blobs.blob_path(&added.digest)?.display());

    step(
        4,
        "the config: how to run it, and which diff IDs make its filesystem",
    );
    let mut opts = ImportOptions {
        platform: platform.clone(),
        created_by: "chapter04 tour: tar of chapter01's busybox rootfs".into(),
        ..Default::default()
    };
    opts.config.set_cmd(Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo \"hello from an OCI image: $GREETING\"; cat /etc/motd; echo \"cwd=$(pwd) uid=$(id -u) hostname=$(hostname)\"".into(),
    ]));
    opts.config.set_env(Some(vec![
        "PATH=/bin:/sbin".into(),
        "GREETING=built, saved, loaded, unpacked".into(),
    ]));
    opts.config.set_working_dir(Some("/etc".into()));
    opts.config.set_exposed_ports(Some(vec!["8080/tcp".into()]));
    opts.config.set_labels(Some(
        [(
            "org.opencontainers.image.title".to_string(),
            "chapter04-busybox".to_string(),
        )]
        .into(),
    ));
    let (config_digest, config, manifest_digest, manifest) =
        import::commit_image(&store, std::slice::from_ref(&added), &opts)?;
    print!("{}", indent(&chapter04::pretty_json(&config)));
    shell("sha256sum config.json");
    println!(
        "   {config_digest}  <- the image ID (`docker images` shows {})",
        digest::short(&config_digest)
    );

    step(5, "the manifest: the config and the layers, by digest");
    print!("{}", indent(&chapter04::pretty_json(&manifest)));
    println!("   manifest digest {manifest_digest}  <- names the whole image, every byte of it");
    let name = "chapter04/busybox:latest";
    store.tag(name, &manifest_digest)?;

    step(
        6,
        "an OCI image layout: what skopeo, umoci and docker load read",
    );
    let layout_dir = w.join("layout");
    let index = layout::save_oci_layout(&store, &[name], &layout_dir)?;
    shell(&format!("find {} -type f", layout_dir.display()));
    let mut files = Vec::new();
    list_files(&layout_dir, &layout_dir, &mut files)?;
    for f in files {
        println!("   {f}");
    }
    println!("   index.json ({}):", digest::sha256(&index));
    print!("{}", indent(&chapter04::pretty_json(&index)));

    step(7, "load it back into a fresh store, as a consumer would");
    let store2 = ImageStore::open(&w.join("store2"))?;
    let src = chapter04::source::DirSource::new(&layout_dir);
    let loaded =
        layout::load_oci_layout(&store2, &src, Some("latest"), "chapter04/busybox", platform)?;
    println!(
        "   every blob re-hashed and checked; loaded {:?}",
        loaded[0].names
    );
    let img = store2.resolve(name, Some(platform))?;
    assert_eq!(img.id(), &config_digest);
    for (i, c) in img.chain_ids().iter().enumerate() {
        println!(
            "   layer {i}: digest {}\n            diff ID {}\n            chain ID {c}",
            img.manifest.layers()[i].digest(),
            img.diff_ids[i]
        );
    }

    step(
        8,
        "unpack into a chapter 03 storage driver, through its safe apply",
    );
    let sel = chapter03::select_driver(chapter03::DriverKind::Auto, &w.join("layers"))?;
    println!("   {}", sel.reason);
    let (reports, top) = layer::unpack_into_driver(sel.driver.as_ref(), &store2.blobs, &img)?;
    for r in &reports {
        println!(
            "   {} -> {} ({} entries, {} bytes)",
            digest::short(&r.digest),
            r.dir.display(),
            r.stats.entries,
            r.uncompressed_size
        );
    }
    let top = top.context("the image has no layers")?;
    let rw = format!("ch04-ctr-{}", std::process::id());
    sel.driver.create_rw(&rw, Some(&top))?;
    let merged = w.join("merged");
    fs::create_dir_all(&merged)?;
    let mounts = sel.driver.mounts(&rw, &merged)?;
    for m in &mounts {
        shell(&m.to_string());
    }
    let mounted = chapter03::Mounted::apply_all(&mounts)?;

    step(
        9,
        "the config becomes a process (Docker's rules), run with chapter 01",
    );
    let rc = runtime::runtime_config(img.config.config().as_ref(), &RunOverrides::default())?;
    println!(
        "   argv {:?}\n   env  {:?}\n   cwd  {}   user {:?}   ports {:?}",
        rc.args,
        rc.env,
        rc.cwd,
        if rc.user.is_empty() { "root" } else { &rc.user },
        rc.exposed_ports
    );
    let passwd = fs::read_to_string(merged.join("etc/passwd")).unwrap_or_default();
    let group = fs::read_to_string(merged.join("etc/group")).unwrap_or_default();
    let (uid, gid) = runtime::resolve_user(&rc.user, &passwd, &group)?;
    let mut cfg = chapter01::Config::new(rc.args.clone());
    cfg.namespaces = chapter01::Namespace::all_but_user();
    cfg.hostname = Some("ch04-tour".into());
    cfg.rootfs = Some(merged.clone());
    cfg.env = rc.env.clone();
    cfg.workdir = Some(rc.cwd.clone());
    if (uid, gid) != (0, 0) {
        cfg.become_user = Some((uid, gid));
    }
    cfg.stdout = std::process::Stdio::piped();
    let mut child = chapter01::spawn(cfg).context("start the container")?;
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out)?;
    }
    let status = child.wait()?;
    print!("{}", indent(&out));
    println!("   {status}");
    mounted.unmount()?;
    sel.driver.remove(&rw)?;

    if keep {
        let kept = work.keep();
        println!(
            "\nKept {}: try `chapter04 inspect {}`",
            kept.display(),
            kept.join("layout").display()
        );
    } else {
        drop(work);
    }
    println!("\nNext: `cargo run -p chapter04 -- inspect <layout or docker-save tar>`, and chapter 05 (networking).");
    if !status.success() {
        bail!("the container exited with {status}");
    }
    Ok(())
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            list_files(root, &p, out)?;
        } else {
            out.push(format!(
                "{:>9}  {}",
                e.metadata()?.len(),
                p.strip_prefix(root)?.display()
            ));
        }
    }
    Ok(())
}
