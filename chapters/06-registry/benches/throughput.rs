//! Throughput of push and pull through this chapter's registry and through
//! the real `docker-registry`, both driven by `skopeo copy`, on 127.0.0.1.
//!
//! `cargo bench -p chapter06` (a few seconds). Each round pushes a fresh
//! image (new random layers, so nothing is skipped) from an OCI layout to
//! each registry, then pulls it back into an empty OCI layout. Prints the
//! median seconds, MB/s, and the ratio ours / docker-registry.
//! `CH06_BENCH_MB` (default 32) sets the image size, `CH06_BENCH_ROUNDS`
//! (default 3) the rounds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use chapter06::demo;
use chapter06::server::AuthMode;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let mb: usize = std::env::var("CH06_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let rounds: u64 = std::env::var("CH06_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ours, _root) = rt.block_on(common::our_registry(AuthMode::None));
    let real = common::DockerRegistry::start(None);
    let registries = [
        ("chapter06", ours.host()),
        ("docker-registry", real.host.clone()),
    ];

    // One image per round, 4 layers of random (incompressible) bytes.
    let (store, _sd) = common::store();
    let layer = mb * 1024 * 1024 / 4;
    let mut layouts = Vec::new();
    for r in 0..rounds {
        let name = format!("bench:r{r}");
        demo::synthetic_image(&store, &name, &[layer; 4], 1000 + r).unwrap();
        layouts.push(common::layout_of(&store, &name));
    }
    let mut results = Vec::new();
    for (label, host) in &registries {
        let (mut push, mut pull) = (Vec::new(), Vec::new());
        for (r, (layout, _)) in layouts.iter().enumerate() {
            let src = format!("oci:{}:r{r}", layout.display());
            let remote = format!("docker://{host}/bench/img:r{r}");
            let t = Instant::now();
            common::skopeo(&["copy", "--quiet", "--dest-tls-verify=false", &src, &remote]);
            push.push(t.elapsed().as_secs_f64());
            let out = tempfile::tempdir().unwrap();
            let dst = format!("oci:{}:r{r}", out.path().join("pulled").display());
            let t = Instant::now();
            common::skopeo(&["copy", "--quiet", "--src-tls-verify=false", &remote, &dst]);
            pull.push(t.elapsed().as_secs_f64());
        }
        let (p, q) = (median(push), median(pull));
        println!(
            "{label:>16}: push {p:.3} s ({:.0} MB/s), pull {q:.3} s ({:.0} MB/s)  [{mb} MiB, median of {rounds}]",
            mb as f64 / p,
            mb as f64 / q
        );
        results.push((p, q));
    }
    let ((op, oq), (dp, dq)) = (results[0], results[1]);
    println!(
        "ratio chapter06 / docker-registry (time, lower is better): push {:.2}, pull {:.2}",
        op / dp,
        oq / dq
    );
    drop(real);
    rt.block_on(ours.stop()).unwrap();
}
