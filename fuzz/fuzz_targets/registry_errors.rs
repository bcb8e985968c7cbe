//! Distribution error bodies (`{"errors":[…]}`) from a registry.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = registry::spec::parse_error_body(data);
});
