//! `--format` Go templates over a container summary.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let v = serde_json::json!({"ID": "abc", "Names": ["/x"], "Labels": {"a": "b"},
        "State": {"Running": true, "Pid": 3}, "Ports": [{"PrivatePort": 80}]});
    let _ = mini_docker::format::render(&String::from_utf8_lossy(data), &v);
});
