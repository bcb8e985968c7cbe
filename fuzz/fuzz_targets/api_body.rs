//! The API's create-body check, query decoding and bind specs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = mini_dockerd::safeguards::check_create_body(&v);
    }
    let s = String::from_utf8_lossy(data);
    let _ = mini_dockerd::api::percent_decode(&s);
    let _ = mini_dockerd::volumes::parse_bind(&s);
});
