//! Exercise 4: the `label` filter of `docker ps`.
//!
//! `docker ps --filter label=com.docker.compose.project=shop` is how
//! docker-compose finds its containers. The CLI sends the filters as JSON in
//! the query (`GET /containers/json?filters={"label":{"com.docker.compose.project=shop":true}}`),
//! and the daemon keeps a container when its labels satisfy **every**
//! `label` value (unlike the other keys, whose values are alternatives):
//!
//! * `KEY` holds when the container has the label `KEY`, whatever its
//!   value (even empty);
//! * `KEY=VALUE` holds when its label `KEY` is exactly `VALUE`; `KEY=`
//!   asks for an empty value. Only the first `=` splits: a value may
//!   contain `=`.
//!
//! Check with `scripts/check.sh engine 4`: the checker parses the filters
//! the docker CLI sends with the engine's own parser (`Filters::parse`),
//! asks your function about four containers (a compose project's two,
//! another project's, and one without labels), and compares the list with
//! what dockerd lists.

use serde_json::Value;

/// Whether `labels` (a container's `Config.Labels`, a JSON object of
/// strings) satisfies every value of the `label` filter in `wanted`.
pub fn labels_match(wanted: &[String], labels: &Value) -> bool {
    let _ = (wanted, labels);
    todo!("hint: wanted.iter().all(|w| …): split w once at '=' (w.split_once('=')), then labels.get(key).and_then(Value::as_str) must exist, and equal the value when one was given")
}
