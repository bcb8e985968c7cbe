//! Unpack benchmark (not a test): the same gzip layer unpacked by this
//! chapter (gunzip + diff ID + digest + chapter 03's openat2 apply) and by
//! GNU tar (`tar -xzf`), median of a few runs, and the ratio.
//!
//! `cargo bench -p chapter04` (as root, so both keep owners).

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use chapter04::image::{resolve_digest, ImageStore};
use chapter04::import::{add_layer, commit_image, ImportOptions};
use chapter04::layer::{unpack_flat, UnpackOptions};
use chapter04::media::Compression;

const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let t = tempfile::Builder::new()
        .prefix("ch04-bench-")
        .tempdir()
        .unwrap();
    let w = t.path();
    // A tree like a small distro layer: 40 dirs x 50 files of 0-16 KiB, plus symlinks.
    let tree = w.join("tree");
    let mut seed: u64 = 42;
    for d in 0..40 {
        let dir = tree.join(format!("usr/lib/d{d:02}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..50 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % 16384;
            let body: Vec<u8> = (0..len)
                .map(|i| (i as u64 ^ seed) as u8 % 64 + 32)
                .collect();
            fs::write(dir.join(format!("f{f:02}.so")), body).unwrap();
        }
        std::os::unix::fs::symlink(
            format!("d{d:02}/f00.so"),
            tree.join(format!("usr/lib/link{d:02}")),
        )
        .unwrap();
    }
    let tar = w.join("layer.tar");
    chapter03::diff_against(None, &tree, fs::File::create(&tar).unwrap()).unwrap();
    let store = ImageStore::open(&w.join("store")).unwrap();
    let added = add_layer(&store, fs::File::open(&tar).unwrap(), Compression::Gzip).unwrap();
    let (_, _, md, _) = commit_image(
        &store,
        std::slice::from_ref(&added),
        &ImportOptions::default(),
    )
    .unwrap();
    let img = resolve_digest(&store.blobs, &md, None, None).unwrap();
    let blob = store.blobs.blob_path(&added.digest).unwrap();
    println!(
        "layer: {} entries, {} bytes uncompressed, {} bytes gzip",
        added.entries, added.diff_size, added.size
    );

    let mut ours = Vec::new();
    let mut gnu = Vec::new();
    for i in 0..RUNS {
        let a = w.join(format!("ours{i}"));
        let start = Instant::now();
        unpack_flat(&store.blobs, &img, &a, &UnpackOptions::default()).unwrap();
        ours.push(start.elapsed());
        let b = w.join(format!("gnu{i}"));
        fs::create_dir(&b).unwrap();
        let start = Instant::now();
        let st = Command::new("tar")
            .args(["--numeric-owner", "-xzf"])
            .arg(&blob)
            .arg("-C")
            .arg(&b)
            .status()
            .unwrap();
        gnu.push(start.elapsed());
        assert!(st.success(), "GNU tar failed");
        fs::remove_dir_all(&a).unwrap();
        fs::remove_dir_all(&b).unwrap();
    }
    let (o, g) = (median(ours), median(gnu));
    println!("chapter04 unpack (gunzip + 2 digests + openat2 apply): {o:?} (median of {RUNS})");
    println!("GNU tar -xzf:                                          {g:?} (median of {RUNS})");
    println!(
        "ratio chapter04 / GNU tar: {:.2}",
        o.as_secs_f64() / g.as_secs_f64()
    );
}
