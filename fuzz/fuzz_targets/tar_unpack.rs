//! A layer tar applied to an empty directory (as root: owners, devices).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let t = tempfile::Builder::new()
        .prefix("md-fuzz-tar-")
        .tempdir()
        .unwrap();
    let target = t.path().join("root");
    std::fs::create_dir(&target).unwrap();
    let opts = unionfs::apply::ApplyOptions {
        whiteouts: unionfs::apply::WhiteoutMode::Delete,
        keep_setid: false,
        same_owner: false,
    };
    let _ = unionfs::apply::apply(data, &target, &opts);
    let _ = unionfs::diff::list_entries(data);
});
