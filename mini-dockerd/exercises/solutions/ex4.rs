//! Exercise 4, the reference answer: `Filters::labels_match` in
//! `mini-dockerd/src/filters.rs`.

use mini_dockerd::filters::Filters;
use serde_json::Value;

/// Whether `labels` satisfies every value of the `label` filter.
pub fn labels_match(wanted: &[String], labels: &Value) -> bool {
    wanted
        .iter()
        .fold(Filters::default(), |f, w| f.with("label", w))
        .labels_match(labels)
}
