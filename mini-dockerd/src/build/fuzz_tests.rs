//! A bounded, seeded fuzz run of the parsers: Dockerfiles, variable
//! substitution and `.dockerignore` patterns, mutated at random from a
//! small corpus. Every input must give a value or an error, never a panic
//! (nor a hang: each case is small, and the run has a fixed size, so it is
//! cheap enough for every `cargo test`).

use super::dockerfile::{self, Cmd};
use super::ignore::Matcher;
use super::shellword;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CORPUS: &[&str] = &[
    "FROM busybox\nRUN echo hi\n",
    "# escape=`\nFROM a AS b\nRUN echo `\n  x\nCOPY [\"a\", \"b\"]\n",
    "ARG B=busybox\nFROM ${B:-x} as s1\nENV A=1 B=\"x y\" C=\\$d\nLABEL \"k k\"='v v'\n",
    "FROM scratch\nCOPY --from=s1 --chown=1:2 /a /b/\nADD x.tar /\nWORKDIR $A/${B:+y}\n",
    "FROM a\nHEALTHCHECK --interval=5s --retries=3 CMD [\"true\"]\nHEALTHCHECK NONE\nSHELL [\"/bin/sh\",\"-c\"]\n",
    "FROM a\nEXPOSE 80/tcp $P\nVOLUME [\"/v\"]\nUSER u:g\nSTOPSIGNAL 9\nCMD x\nENTRYPOINT [\"y\"]\nMAINTAINER m\n",
];

/// Characters that matter to the parsers.
const SPICE: &[char] = &[
    '\\', '`', '$', '{', '}', ':', '-', '+', '?', '"', '\'', '[', ']', ',', '=', '#', '\n', ' ',
    '\t', '*', '!', '/', '.', 'é', '\u{0}', '\r',
];

fn mutate(rng: &mut StdRng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for _ in 0..rng.gen_range(1..8) {
        let at = rng.gen_range(0..=chars.len());
        match rng.gen_range(0..5) {
            0 => chars.insert(at, SPICE[rng.gen_range(0..SPICE.len())]),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 => {
                let c = char::from_u32(rng.gen_range(0..0x3000)).unwrap_or('x');
                chars.insert(at, c);
            }
            3 if !chars.is_empty() => {
                // Duplicate a slice somewhere else.
                let a = rng.gen_range(0..chars.len());
                let b = (a + rng.gen_range(0..12)).min(chars.len());
                let piece: Vec<char> = chars[a..b].to_vec();
                let at = rng.gen_range(0..=chars.len());
                for (i, c) in piece.into_iter().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn parsers_never_panic_on_mutated_input() {
    // `MD_FUZZ_ITERS` / `MD_FUZZ_SEED` make a longer or different run.
    let iters: usize = std::env::var("MD_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let seed: u64 = std::env::var("MD_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6d64_6275_696c);
    let mut rng = StdRng::seed_from_u64(seed);
    let vars: Vec<(String, String)> = vec![
        ("A".into(), "1".into()),
        ("B".into(), "two words".into()),
        ("P".into(), "80 443/udp".into()),
    ];
    let mut parsed = 0;
    for i in 0..iters {
        let base = CORPUS[i % CORPUS.len()];
        let input = mutate(&mut rng, base);
        if let Ok(df) = dockerfile::parse("Dockerfile", &input) {
            parsed += 1;
            for ins in &df.instructions {
                let _ = ins.to_string();
                if let Ok(Cmd::Healthcheck(h)) = ins.expand(&df, &vars) {
                    let _ = h.interval.as_deref().map(dockerfile::parse_duration);
                }
            }
        }
        let _ = shellword::expand(&input, '\\', &vars);
        let _ = shellword::words(&input, '`', &vars);
        let _ = shellword::split_raw(&input, '\\');
        // .dockerignore: short patterns, so backtracking stays small.
        let pattern: String = input.chars().take(24).collect();
        if let Ok(m) = Matcher::parse(&pattern) {
            let path: String = mutate(&mut rng, "a/b.log/c/d.txt");
            let _ = m.excluded(&path);
        }
    }
    // The mutations keep enough inputs valid to reach the expansion code.
    assert!(parsed > iters / 20, "only {parsed} inputs parsed");
}
