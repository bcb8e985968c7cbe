//! Image references and digests: parse, print, parse again.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(r) = registry::Reference::parse(&s) {
        let again = registry::Reference::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again.to_string(), r.to_string());
    }
    let _ = images::image::normalize_name(&s);
    let _ = images::digest::parse(&s);
    let _ = registry::spec::parse_digest(&s);
});
