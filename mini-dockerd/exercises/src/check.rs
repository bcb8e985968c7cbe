//! The checks of the engine's exercises. They run in this process (no
//! kernel object is made): your function is called as the engine would call
//! it, and what it answers goes through the engine's own code.

use exercise_kit::{attempt, Exercise, Report, Scratch, Variant};
use mini_dockerd::errors::Kind;
use mini_dockerd::logs::{self, LogOptions};
use mini_dockerd::state::{Action, Refusal, Status};

use crate::{ex1, ex2, ex3, ex4, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 4] = [
    Exercise {
        title: "the lifecycle's state table, with dockerd's refusals",
        check: check_table,
    },
    Exercise {
        title: "the restart policy's back-off",
        check: check_backoff,
    },
    Exercise {
        title: "a json-file log line that docker logs reads back",
        check: check_log_line,
    },
    Exercise {
        title: "the label filter of docker ps",
        check: check_label_filter,
    },
];

/// The id the refusals name (dockerd names the container as it was asked).
const ID: &str = "web";

type Transition = fn(Status, Action) -> Result<Status, Refusal>;

fn transition_of(variant: Variant) -> Transition {
    match variant {
        Variant::Learner => ex1::transition,
        Variant::Solution => solutions::ex1::transition,
    }
}

/// What the engine sends for an answer: the new status, or the HTTP status
/// and message of the refusal (through the engine's `Refusal::to_api`).
fn as_sent(answer: Result<Status, Refusal>) -> String {
    match answer {
        Ok(s) => format!("allowed, then {s}"),
        Err(r) => {
            let e = r.to_api(ID);
            let code = match e.kind {
                Kind::NotModified => "304",
                Kind::Conflict => "409",
                Kind::System => "500",
                _ => "4xx",
            };
            if e.message.is_empty() {
                format!("{code} (nothing to do)")
            } else {
                format!("{code} \"{}\"", e.message)
            }
        }
    }
}

fn name(a: Action) -> String {
    format!("{a:?}").to_lowercase()
}

fn check_table(r: &mut Report, variant: Variant) {
    let yours = transition_of(variant);
    // A life as `docker run -d`, pause, unpause, stop, start, kill and rm
    // make it, with the shim's die after each stop and kill.
    let life = [
        Action::Start,
        Action::Pause,
        Action::Unpause,
        Action::Stop,
        Action::Die,
        Action::Start,
        Action::Kill,
        Action::Die,
        Action::Remove,
        Action::Destroy,
    ];
    let run = |f: Transition| -> Result<Vec<String>, String> {
        let mut s = Status::Created;
        let mut seen = vec![];
        for a in life {
            s = attempt(|| f(s, a))?.map_err(|e| {
                format!(
                    "{} of a {s} container was refused: {}",
                    name(a),
                    as_sent(Err(e))
                )
            })?;
            seen.push(format!("{}:{s}", name(a)));
        }
        Ok(seen)
    };
    let want = run(solutions::ex1::transition).expect("the engine's own table");
    match run(yours) {
        Err(e) => {
            r.fail(
                "run, pause, unpause, stop, start, kill and rm go through",
                e,
                "start with the arms of a normal life: start of created, pause of running, die of running…",
            );
            return;
        }
        Ok(seen) => {
            r.check(
                "run, pause, unpause, stop, start, kill and rm: the statuses docker inspect shows",
                seen == want,
                seen.join(" "),
                &format!("dockerd shows {}", want.join(" ")),
            );
        }
    }
    for a in Action::ALL {
        let mut wrong = vec![];
        for s in Status::ALL {
            let mine = match attempt(|| yours(s, a)) {
                Ok(answer) => as_sent(answer),
                Err(e) => {
                    r.fail(
                        &format!("{} in every status", name(a)),
                        e,
                        "write every arm",
                    );
                    return;
                }
            };
            let theirs = as_sent(solutions::ex1::transition(s, a));
            if mine != theirs {
                wrong.push(format!(
                    "{} of {s}: yours {mine}, dockerd {theirs}",
                    name(a)
                ));
            }
        }
        r.check(
            &format!("{} in all 7 statuses answers as dockerd", name(a)),
            wrong.is_empty(),
            if wrong.is_empty() {
                "7 of 7 the same".to_string()
            } else {
                wrong.join("; ")
            },
            "read the rule for this action in src/ex1.rs's doc",
        );
    }
}

fn check_backoff(r: &mut Report, variant: Variant) {
    let yours: fn(u64, i64) -> u64 = match variant {
        Variant::Learner => ex2::next_backoff,
        Variant::Solution => solutions::ex2::next_backoff,
    };
    // A crash loop: each run lasts 50 ms; the delays the daemon waits.
    let schedule = |runs: usize, ran_ms: i64| -> Result<Vec<u64>, String> {
        let mut delay = 0;
        let mut out = vec![];
        for _ in 0..runs {
            delay = attempt(|| yours(delay, ran_ms))?;
            out.push(delay);
        }
        Ok(out)
    };
    let first = match schedule(8, 50) {
        Ok(v) => v,
        Err(e) => {
            r.fail("a crash loop gets delays", e, "write next_backoff");
            return;
        }
    };
    r.check(
        "a container that fails at once waits 100, 200, 400 … 12800 ms",
        first == [100, 200, 400, 800, 1600, 3200, 6400, 12800],
        format!("{first:?}"),
        "start at 100 ms and double each time",
    );
    let long = schedule(20, 50).unwrap_or_default();
    let top = long.iter().copied().max().unwrap_or(0);
    r.check(
        "the delay stops growing at one minute",
        top == 60_000 && long.last() == Some(&60_000),
        format!("the 20th delay: {:?}, the largest: {top}", long.last()),
        "never more than 60_000 ms",
    );
    let after_ten = attempt(|| yours(6400, 10_000)).unwrap_or(0);
    let just_before = attempt(|| yours(6400, 9_999)).unwrap_or(0);
    r.check(
        "a run of 10 s resets the delay to 100 ms; a run of 9.999 s does not",
        after_ten == 100 && just_before == 12_800,
        format!("after 10 s: {after_ten}, after 9.999 s: {just_before}"),
        "reset when ran_ms >= 10_000",
    );
    let first_ever = attempt(|| yours(0, 60_000)).unwrap_or(0);
    r.check(
        "the first restart waits 100 ms",
        first_ever == 100,
        format!("{first_ever}"),
        "previous_ms 0 means no delay yet: 100",
    );
}

/// The chunks the container writes: stream, bytes.
const CHUNKS: [(u8, &[u8]); 6] = [
    (1, b"hello \"world\"\n"),
    (2, b"oops\twith a tab\n"),
    (1, b"back\\slash and a CR\r\n"),
    (1, "\u{e9}t\u{e9} \u{2713}\n".as_bytes()),
    (2, b"not utf-8: \xff\n"),
    (1, b"no newline at the end"),
];

fn time_of(i: usize) -> String {
    format!("2026-12-07T10:15:0{i}.12345678{i}Z")
}

fn check_log_line(r: &mut Report, variant: Variant) {
    let yours: fn(u8, &[u8], &str) -> Vec<u8> = match variant {
        Variant::Learner => ex3::log_line,
        Variant::Solution => solutions::ex3::log_line,
    };
    let dir = Scratch::new("md-ex3-log");
    let path = dir.0.join("c0ffee-json.log");
    let mut file = vec![];
    for (i, (stream, text)) in CHUNKS.iter().enumerate() {
        match attempt(|| yours(*stream, text, &time_of(i))) {
            Ok(line) => file.extend(line),
            Err(e) => {
                r.fail("each chunk becomes a line", e, "write log_line");
                return;
            }
        }
    }
    if let Err(e) = std::fs::write(&path, &file) {
        r.fail("the checker writes the log", e, "is /tmp writable?");
        return;
    }
    let text = String::from_utf8_lossy(&file);
    let lines = text.split_inclusive('\n').count();
    r.check(
        "6 chunks make 6 lines, each ending in a newline",
        lines == CHUNKS.len() && file.ends_with(b"\n"),
        format!(
            "{lines} lines, last byte {:?}",
            file.last().map(|b| *b as char)
        ),
        "escape the newlines inside the text (JSON does), and end the object with b'\\n'",
    );
    // The engine's reader, as `docker logs` uses it.
    let mut reader = logs::Reader::open(&path, None);
    let mut read = vec![];
    loop {
        let chunk = reader.next_chunk();
        if chunk.is_empty() {
            break;
        }
        read.extend(chunk);
    }
    if !r.check(
        "the engine's log reader reads back all 6 lines",
        read.len() == CHUNKS.len(),
        format!(
            "{} lines read: {:?}",
            read.len(),
            text.lines().next().unwrap_or("")
        ),
        "each line is one JSON object with \"log\", \"stream\" and \"time\"",
    ) {
        return;
    }
    let all = LogOptions {
        stdout: true,
        stderr: true,
        ..LogOptions::default()
    };
    let frames = unframe(&logs::render(&read, &all, false));
    let want: Vec<(u8, String)> = CHUNKS
        .iter()
        .map(|(s, t)| (*s, String::from_utf8_lossy(t).into_owned()))
        .collect();
    let wrong: Vec<String> = frames
        .iter()
        .zip(&want)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("got {a:?} for {b:?}"))
        .collect();
    r.check(
        "docker logs gets each chunk's exact text, on its own stream (1 stdout, 2 stderr)",
        frames.len() == want.len() && wrong.is_empty(),
        if wrong.is_empty() {
            format!("{} frames, all the same", frames.len())
        } else {
            wrong.join("; ")
        },
        "the text goes in \"log\" unchanged (String::from_utf8_lossy), stream 2 is \"stderr\"",
    );
    let times: Vec<Option<i64>> = read
        .iter()
        .map(|l| mini_docker_api::time::parse_rfc3339(&l.time))
        .collect();
    let want_times: Vec<Option<i64>> = (0..CHUNKS.len())
        .map(|i| mini_docker_api::time::parse_rfc3339(&time_of(i)))
        .collect();
    let since = LogOptions {
        since: want_times[3],
        ..all.clone()
    };
    let after = unframe(&logs::render(&read, &since, false)).len();
    r.check(
        "each line keeps its time to the nanosecond, so --since works",
        times == want_times && after == 3,
        format!("times {:?}; --since the 4th: {after} lines", times),
        "\"time\" is the time you were given, unchanged",
    );
}

/// Splits Docker's multiplexed stream into (stream, text) frames.
fn unframe(mut bytes: &[u8]) -> Vec<(u8, String)> {
    let mut out = vec![];
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        let end = (8 + size).min(bytes.len());
        out.push((
            bytes[0],
            String::from_utf8_lossy(&bytes[8..end]).into_owned(),
        ));
        bytes = &bytes[end..];
    }
    out
}

/// Four containers and their labels: a compose project's two, another
/// project's, and one without labels.
fn containers() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "shop-web-1",
            serde_json::json!({"com.docker.compose.project": "shop", "com.docker.compose.service": "web", "tier": "front"}),
        ),
        (
            "shop-db-1",
            serde_json::json!({"com.docker.compose.project": "shop", "com.docker.compose.service": "db", "tier": "", "dsn": "pg://u=a"}),
        ),
        (
            "blog-web-1",
            serde_json::json!({"com.docker.compose.project": "blog", "tier": "front"}),
        ),
        ("lone", serde_json::json!({})),
    ]
}

fn check_label_filter(r: &mut Report, variant: Variant) {
    let yours: fn(&[String], &serde_json::Value) -> bool = match variant {
        Variant::Learner => ex4::labels_match,
        Variant::Solution => solutions::ex4::labels_match,
    };
    // What `docker ps` sends for each `--filter` (20.10's map spelling).
    // A real dockerd 20.10.24, given these four containers (created with
    // the same labels), lists exactly what the engine's answer lists for
    // each of these six (checked by hand on 2026-12-07).
    let cases = [
        ("--filter label=com.docker.compose.project", r#"{"label":{"com.docker.compose.project":true}}"#),
        ("--filter label=com.docker.compose.project=shop", r#"{"label":{"com.docker.compose.project=shop":true}}"#),
        ("--filter label=com.docker.compose.project=shop --filter label=tier=front (both must hold)", r#"{"label":{"com.docker.compose.project=shop":true,"tier=front":true}}"#),
        ("--filter label=tier= (an empty value)", r#"{"label":{"tier=":true}}"#),
        ("--filter label=dsn=pg://u=a (a value with '=')", r#"{"label":["dsn=pg://u=a"]}"#),
        ("--filter label=nobody", r#"{"label":{"nobody":true}}"#),
    ];
    for (flag, raw) in cases {
        let wanted = match mini_dockerd::filters::Filters::parse(raw) {
            Ok(f) => f.get("label").map(<[String]>::to_vec).unwrap_or_default(),
            Err(e) => return r.fail("the engine parses the filters", e.message, "(checker)"),
        };
        let list = |f: fn(&[String], &serde_json::Value) -> bool| -> Result<Vec<&str>, String> {
            let mut out = vec![];
            for (name, labels) in containers() {
                if attempt(|| f(&wanted, &labels))? {
                    out.push(name);
                }
            }
            Ok(out)
        };
        let want = list(solutions::ex4::labels_match).unwrap_or_default();
        match list(yours) {
            Err(e) => return r.fail(&format!("docker ps {flag}"), e, "write labels_match"),
            Ok(seen) => {
                r.check(
                    &format!("docker ps {flag} lists {want:?}"),
                    seen == want,
                    format!("{seen:?}"),
                    "every wanted label must hold; KEY alone asks only that the label exists",
                );
            }
        }
    }
}
