//! Issue 14, parsers under mutated input: property tests in the spirit of a
//! fuzzer that run on the stable toolchain, in CI, with a fixed seed and a
//! fixed number of iterations (no time bound): references, digests,
//! manifests/indexes/configs, registry error bodies, `--format` Go
//! templates, the API's create-body check and query decoding, and layer
//! tars applied to a directory (whose sibling must stay untouched).
//! Each asserts the parser returns (Ok or Err) and never panics.
//!
//! `MD_FUZZ_SEED=N` replays another seed; `MD_FUZZ_ITERS=N` runs longer;
//! `MD_FUZZ_DEBUG=1` prints each input before it is tried.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn seed() -> u64 {
    std::env::var("MD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d64_6875_7a7a)
}

fn iters(default: usize) -> usize {
    std::env::var("MD_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Tokens that parsers of this project care about.
const TOKENS: &[&[u8]] = &[
    b"..",
    b"/",
    b"../",
    b"@",
    b":",
    b"sha256:",
    b"sha512:",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b"\0",
    b"\xff",
    b"\xef\xbf\xbf",
    b"%2e%2e",
    b"%",
    b"{{",
    b"}}",
    b"{{.",
    b"{{json .}}",
    b"{{range",
    b"{{end}}",
    b"{{index",
    b"|",
    b"-1",
    b"18446744073709551616",
    b"1e999",
    b"null",
    b"true",
    b"\"manifests\":[]",
    b"\"layers\":",
    b"\"mediaType\":",
    b".wh.",
    b".wh..wh..opq",
    b"localhost",
    b"UPPER",
    b"\n",
    b"\\u0000",
];

/// One mutation of `input` (occasionally spliced with `other`).
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let at = if v.is_empty() {
            0
        } else {
            rng.gen_range(0..=v.len())
        };
        match rng.gen_range(0..7) {
            0 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => v.insert(at, rng.gen()),
            2 if !v.is_empty() => {
                let end = (at + rng.gen_range(1..16)).min(v.len());
                let start = at.min(end);
                v.drain(start..end);
            }
            3 => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            4 if !v.is_empty() => {
                let end = (at + rng.gen_range(1..64)).min(v.len());
                let start = at.min(end);
                let dup = v[start..end].to_vec();
                v.splice(end..end, dup);
            }
            5 if !other.is_empty() => {
                let cut = rng.gen_range(0..other.len());
                v.truncate(at);
                v.extend_from_slice(&other[cut..]);
            }
            _ => {
                if !v.is_empty() {
                    let i = rng.gen_range(0..v.len());
                    v[i] = rng.gen();
                }
            }
        }
    }
    v
}

/// Runs `check` over `n` mutations of the seeds (and the seeds themselves).
fn fuzz(name: &str, seeds: &[Vec<u8>], n: usize, mut check: impl FnMut(&[u8])) {
    let mut rng = StdRng::seed_from_u64(seed() ^ name.len() as u64);
    for s in seeds {
        check(s);
    }
    let mut corpus: Vec<Vec<u8>> = seeds.to_vec();
    for i in 0..n {
        let a = &corpus[rng.gen_range(0..corpus.len())];
        let b = &corpus[rng.gen_range(0..corpus.len())];
        let m = mutate(&mut rng, a, b);
        if std::env::var_os("MD_FUZZ_DEBUG").is_some() {
            eprintln!("{name} {i}: {:?}", String::from_utf8_lossy(&m));
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&m)));
        assert!(
            r.is_ok(),
            "{name}: panic on iteration {i} (seed {}), input {:?}",
            seed(),
            String::from_utf8_lossy(&m)
        );
        // Keep some mutants to go deeper (a poor man's corpus).
        if i % 7 == 0 && corpus.len() < 256 {
            corpus.push(m);
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn references_and_digests() {
    let seeds: Vec<Vec<u8>> = [
        "busybox",
        "library/busybox:1.36",
        "127.0.0.1:5000/team/app:v1",
        "localhost/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "[::1]:5000/a/b:c",
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzz("reference", &seeds, iters(20_000), |b| {
        let s = text(b);
        if let Ok(r) = registry::Reference::parse(&s) {
            // What parses prints back to something that parses the same.
            let again = registry::Reference::parse(&r.to_string())
                .unwrap_or_else(|e| panic!("{s:?} -> {r} does not parse again: {e}"));
            assert_eq!(again.to_string(), r.to_string());
            assert!(!r.registry.split(':').next().unwrap_or("").starts_with('.'));
        }
        let _ = images::image::normalize_name(&s);
        let _ = images::digest::parse(&s);
        let _ = registry::spec::parse_digest(&s);
        let _ = registry::spec::validate_tag(&s);
        let _ = registry::spec::validate_name(&s);
    });
}

#[test]
fn manifests_indexes_and_configs() {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":7023},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0","size":32654}]}"#;
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":7143,"platform":{"architecture":"amd64","os":"linux"}}]}"#;
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],"WorkingDir":"/","Volumes":{"/data":{}}},"rootfs":{"type":"layers","diff_ids":["sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]},"history":[{"created_by":"x"}]}"#;
    let seeds = vec![manifest.to_vec(), index.to_vec(), config.to_vec()];
    fuzz("documents", &seeds, iters(6_000), |b| {
        for announced in [
            None,
            Some("application/vnd.oci.image.manifest.v1+json"),
            Some("application/vnd.oci.image.index.v1+json"),
            Some("application/vnd.docker.distribution.manifest.v2+json"),
        ] {
            let _ = images::document::parse_document(b, announced, "fuzz");
        }
        let _ = images::document::parse_config(b, "fuzz");
    });
}

#[test]
fn registry_error_bodies() {
    let seeds = vec![
        br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}"#.to_vec(),
        br#"{"errors":[{"code":"DIGEST_INVALID","message":"x","detail":null}]}"#.to_vec(),
        b"<html>502 Bad Gateway</html>".to_vec(),
    ];
    fuzz("distribution errors", &seeds, iters(10_000), |b| {
        let _ = registry::spec::parse_error_body(b);
    });
}

#[test]
fn format_templates() {
    let v = serde_json::json!({
        "ID": "abc", "Names": ["/x"], "Labels": {"a": "b"}, "State": {"Running": true, "Pid": 3},
        "Ports": [{"PrivatePort": 80, "Type": "tcp"}], "Size": 1.5, "Nil": null,
    });
    let seeds: Vec<Vec<u8>> = [
        "{{.ID}}",
        "{{json .}}",
        "{{.State.Running}} {{.State.Pid}}",
        "{{range .Names}}{{.}},{{end}}",
        "{{index .Labels \"a\"}}",
        "{{if .State.Running}}up{{else}}down{{end}}",
        "{{json .Ports}} {{len .Names}}",
        "table {{.ID}}\\t{{.Names}}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzz("templates", &seeds, iters(6_000), |b| {
        let _ = mini_docker::format::render(&text(b), &v);
    });
}

#[test]
fn api_create_bodies_and_queries() {
    let seeds = vec![
        br#"{"Image":"bb","Cmd":["sh","-c","echo"],"Env":["A=1"],"HostConfig":{"Memory":67108864,"Binds":["/a:/b:ro"],"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]},"NetworkMode":"bridge","RestartPolicy":{"Name":"always"}},"Labels":{"k":"v"}}"#.to_vec(),
        b"name=x&filters=%7B%22status%22%3A%5B%22running%22%5D%7D&all=1".to_vec(),
    ];
    fuzz("api bodies", &seeds, iters(10_000), |b| {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(b) {
            if mini_dockerd::safeguards::check_create_body(&v).is_ok() {
                // What passes the check has the types the engine indexes with.
                if let Some(h) = v.get("HostConfig") {
                    assert!(h.is_null() || h.is_object());
                }
            }
        }
        let _ = mini_dockerd::api::percent_decode(&text(b));
        let _ = mini_dockerd::volumes::parse_bind(&text(b));
        let _ = mini_dockerd::volumes::check_destination(&text(b));
    });
}

/// A tar with a few entries of each kind (names within the 100-byte field).
fn seed_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_path("d/").unwrap();
    h.set_mode(0o755);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_path("d/f").unwrap();
    h.set_mode(0o644);
    h.set_size(5);
    h.set_cksum();
    b.append(&h, &b"hello"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_path("s").unwrap();
    h.set_link_name("d").unwrap();
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_path("l").unwrap();
    h.set_link_name("d/f").unwrap();
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_path("d/.wh.f").unwrap();
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn layer_tars_applied_to_a_directory_stay_inside() {
    let work = tempfile::Builder::new()
        .prefix("md-hd-fuzz-tar-")
        .tempdir()
        .unwrap();
    let victim = work.path().join("victim");
    std::fs::create_dir_all(victim.join("dir")).unwrap();
    std::fs::write(victim.join("secret"), "keep").unwrap();
    let listing = |p: &std::path::Path| {
        std::process::Command::new("find")
            .arg(p)
            .args(["-printf", "%p %y %s %m %l\n"])
            .output()
            .unwrap()
            .stdout
    };
    let before = listing(&victim);
    let opts = unionfs::apply::ApplyOptions {
        whiteouts: unionfs::apply::WhiteoutMode::Delete,
        keep_setid: false,
        same_owner: false,
    };
    let mut n = 0;
    fuzz("layer tars", &[seed_tar()], iters(400), |b| {
        n += 1;
        let target = work.path().join(format!("t{n}"));
        std::fs::create_dir(&target).unwrap();
        let _ = unionfs::apply::apply(b, &target, &opts);
        let _ = unionfs::diff::list_entries(b);
        let _ = std::fs::remove_dir_all(&target);
    });
    assert_eq!(listing(&victim), before, "the sibling directory changed");
}
