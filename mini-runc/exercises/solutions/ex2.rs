//! Exercise 2, the reference answer: `mask_path` and `readonly_path` in
//! `mini-runc/src/init.rs` (the init runs them as the plan's
//! `MaskPath`/`ReadonlyPath` steps).

/// Masks `masked`, makes `readonly` read-only.
pub fn mask_and_protect(masked: &[String], readonly: &[String]) -> Result<(), String> {
    for p in readonly {
        mini_runc::init::readonly_path(p).map_err(|e| format!("{e:?}"))?;
    }
    for p in masked {
        mini_runc::init::mask_path(p).map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}
