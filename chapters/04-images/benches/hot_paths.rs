//! Criterion benchmarks of this chapter's hot paths, so a regression shows
//! in `cargo bench -p chapter04 --bench hot_paths`:
//!
//! - `sha256/8MiB`: content digesting, as every blob that enters the store is hashed;
//! - `diff_id/gzip-layer`: gunzip + sha256 of a layer stream (what `pull` checks);
//! - `unpack_flat/2000-files`: a gzip layer of 2000 small files unpacked through
//!   chapter 03's openat2 apply, digests checked on the way (what `run` does
//!   the first time it meets an image).
//!
//! Run as root so the unpack keeps owners, as the engine does.

// criterion_group!/criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::fs;
use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;

use chapter04::digest::{Algorithm, Hasher};
use chapter04::image::{resolve_digest, ImageStore};
use chapter04::import::{add_layer, commit_image, ImportOptions};
use chapter04::layer::{diff_id_of, unpack_flat, UnpackOptions};
use chapter04::media::Compression;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// 40 directories of 50 files of 0-4 KiB, plus a symlink per directory.
fn make_tree(root: &Path) {
    let mut seed: u64 = 7;
    for d in 0..40 {
        let dir = root.join(format!("usr/share/d{d:02}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..50 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % 4096;
            let body: Vec<u8> = (0..len)
                .map(|i| (i as u64 ^ seed) as u8 % 64 + 32)
                .collect();
            fs::write(dir.join(format!("f{f:02}.txt")), body).unwrap();
        }
        std::os::unix::fs::symlink(
            format!("d{d:02}/f00.txt"),
            root.join(format!("usr/share/link{d:02}")),
        )
        .unwrap();
    }
}

fn sha256(c: &mut Criterion) {
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut g = c.benchmark_group("sha256");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("8MiB", |b| {
        b.iter(|| {
            let mut h = Hasher::new(Algorithm::Sha256);
            h.update(black_box(&data));
            h.finish()
        })
    });
    g.finish();
}

fn layers(c: &mut Criterion) {
    let t = tempfile::Builder::new()
        .prefix("ch04-criterion-")
        .tempdir()
        .unwrap();
    let w = t.path();
    let tree = w.join("tree");
    make_tree(&tree);
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
    let gz = fs::read(store.blobs.blob_path(&added.digest).unwrap()).unwrap();

    let mut g = c.benchmark_group("diff_id");
    g.throughput(Throughput::Bytes(added.diff_size));
    g.bench_function("gzip-layer", |b| {
        b.iter(|| diff_id_of(Cursor::new(black_box(&gz)), Compression::Gzip).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("unpack_flat");
    g.sample_size(10);
    g.throughput(Throughput::Elements(added.entries as u64));
    let mut n = 0u64;
    g.bench_function("2000-files", |b| {
        b.iter_batched(
            || {
                n += 1;
                w.join(format!("out{n}"))
            },
            |target| {
                unpack_flat(&store.blobs, &img, &target, &UnpackOptions::default()).unwrap();
                target
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    for e in fs::read_dir(w).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("out") {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

criterion_group!(benches, sha256, layers);
criterion_main!(benches);
