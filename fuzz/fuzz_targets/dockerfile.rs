//! Dockerfiles and `.dockerignore` files: parse whatever arrives; a
//! malformed file is an error naming its line, never a panic or a hang.
#![no_main]
use mini_dockerd::build::{dockerfile, ignore};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = dockerfile::parse("Dockerfile", &text) {
        let _ = e.to_string();
    }
    if let Ok(m) = ignore::Matcher::parse(&text) {
        for path in ["a", "a/b/c", "Dockerfile", ".dockerignore", "x/../y"] {
            let _ = m.excluded(path);
        }
    }
});
