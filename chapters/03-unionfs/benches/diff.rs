//! Criterion benchmarks of the layer diff (an upper directory to an OCI layer
//! tar), so a regression shows in `cargo bench -p chapter03 --bench diff`:
//!
//! - `diff_upper/2000-files`: the tar of an overlay upper directory (what
//!   `commit` and each `build` step write);
//! - `diff_against/2000-files-vs-lower`: the copy fallback's diff, which
//!   compares every file with the lower tree (200 of them changed).
//!
//! The tar goes to `io::sink()`: this measures walking, comparing and
//! framing, not the disk.

// criterion_group!/criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::fs;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// 40 directories of 50 files of 0-4 KiB.
fn make_tree(root: &Path, salt: u64, every: usize) {
    let mut seed: u64 = 11;
    for d in 0..40 {
        let dir = root.join(format!("srv/d{d:02}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..50 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % 4096;
            let changed = (d * 50 + f) % every == 0;
            let s = if changed { seed ^ salt } else { seed };
            let body: Vec<u8> = (0..len).map(|i| (i as u64 ^ s) as u8 % 64 + 32).collect();
            fs::write(dir.join(format!("f{f:02}.txt")), body).unwrap();
        }
    }
}

fn diff(c: &mut Criterion) {
    let t = tempfile::Builder::new()
        .prefix("ch03-criterion-")
        .tempdir()
        .unwrap();
    let lower = t.path().join("lower");
    let upper = t.path().join("upper");
    make_tree(&lower, 0, usize::MAX);
    make_tree(&upper, 0xdead_beef, 10);

    let mut g = c.benchmark_group("diff_upper");
    g.sample_size(30);
    g.throughput(Throughput::Elements(2000));
    g.bench_function("2000-files", |b| {
        b.iter(|| chapter03::diff_upper(black_box(&upper), std::io::sink()).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("diff_against");
    g.sample_size(30);
    g.throughput(Throughput::Elements(2000));
    g.bench_function("2000-files-vs-lower", |b| {
        b.iter(|| {
            chapter03::diff_against(Some(&lower), black_box(&upper), std::io::sink()).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, diff);
criterion_main!(benches);
