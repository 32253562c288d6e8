//! Generator of the benchmark request bodies: GoCD API 4.0 `stage-status` bodies of a chosen size.
//!
//! The output is deterministic (a fixed-seed generator, fixed start time), so the committed files
//! under tests/fixtures/bench/ can be regenerated and checked for drift. Shared by the body
//! generator example, the criterion benches and the property tests through `#[path]`.

// Each includer uses a different subset of these items.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

/// The flat body of the original notification design, byte for byte.
pub const FLAT_BODY: &str = r#"{"pipeline-name": "build", "pipeline-counter": 1, "stage-name": "compile", "stage-counter": "1", "stage-state": "Passed", "stage-result": "Passed", "create-time": "2011-07-14T19:43:37.100Z"}"#;

/// The committed bodies: file name under tests/fixtures/bench/ and target size in bytes.
pub const SIZES: [(&str, usize); 3] = [
    ("api-4.0-2k.json", 2_048),
    ("api-4.0-20k.json", 20_480),
    ("api-4.0-200k.json", 204_800),
];

/// Material types GoCD sends in a build cause, in the order the generator cycles through them.
const MATERIAL_TYPES: [&str; 8] = [
    "git",
    "mercurial",
    "svn",
    "perforce",
    "tfs",
    "pipeline",
    "package",
    "scm",
];

/// Returns the generated body whose compact JSON length is closest to `target_bytes`.
pub fn body_near(target_bytes: usize) -> String {
    let mut previous = String::new();
    let mut scale = 1;
    loop {
        let body = serde_json::to_string(&stage_status_body(scale)).expect("a Value serializes");
        if body.len() >= target_bytes {
            let below_by = target_bytes - previous.len();
            let above_by = body.len() - target_bytes;
            return if !previous.is_empty() && below_by < above_by {
                previous
            } else {
                body
            };
        }
        previous = body;
        scale += 1;
    }
}

/// Builds a GoCD API 4.0 stage-status body. A larger `scale` gives more materials, more
/// modifications per material and more jobs.
pub fn stage_status_body(scale: usize) -> Value {
    let mut random = SplitMix64::new(0x4865_7261_6c64);
    let start = "2026-03-23T17:27:58Z"
        .parse::<DateTime<Utc>>()
        .expect("a valid start time");

    let material_count = 1 + scale / 3;
    let modifications_per_material = 1 + scale / 6;
    let job_count = 1 + scale / 2;

    let build_cause: Vec<Value> = (0..material_count)
        .map(|index| material_revision(index, modifications_per_material, start, &mut random))
        .collect();
    let jobs: Vec<Value> = (0..job_count)
        .map(|index| job(index, job_count, start, &mut random))
        .collect();

    json!({
        "pipeline": {
            "name": "checkout-service",
            "counter": "1187",
            "label": "1187-a41c9e2",
            "group": "payments",
            "build-cause": build_cause,
            "stage": {
                "name": "integration-test",
                "counter": "2",
                "approval-type": "success",
                "approved-by": "changes",
                "previous-stage-name": "package",
                "previous-stage-counter": 1,
                "state": "Failed",
                "result": "Failed",
                "create-time": gocd_time(start),
                "last-transition-time": gocd_time(start + Duration::seconds(900)),
                "jobs": jobs
            }
        }
    })
}

fn material_revision(
    index: usize,
    modification_count: usize,
    start: DateTime<Utc>,
    random: &mut SplitMix64,
) -> Value {
    let material_type = MATERIAL_TYPES[index % MATERIAL_TYPES.len()];
    let mut material = Map::new();
    material.insert("type".into(), json!(material_type));
    material.insert(
        format!("{material_type}-configuration"),
        material_configuration(material_type, index),
    );
    material.insert("fingerprint".into(), json!(random.hex(64)));

    let modifications: Vec<Value> = (0..modification_count)
        .map(|number| {
            let modified = start - Duration::minutes((index * 37 + number * 11) as i64);
            json!({
                "revision": revision(material_type, index, number, random),
                "modified-time": gocd_time(modified),
                "data": modification_data(material_type, index, number)
            })
        })
        .collect();

    json!({
        "material": material,
        "changed": index % 3 == 0,
        "modifications": modifications
    })
}

fn material_configuration(material_type: &str, index: usize) -> Value {
    match material_type {
        "git" => json!({
            "url": format!("https://git.example.com/payments/service-{index}.git"),
            "branch": "main",
            "shallow-clone": false
        }),
        "mercurial" => json!({ "url": format!("https://hg.example.com/tools-{index}") }),
        "svn" => json!({
            "url": format!("https://svn.example.com/legacy-{index}/trunk"),
            "username": "builder",
            "check-externals": false
        }),
        "perforce" => json!({
            "url": "perforce.example.com:1666",
            "username": "builder",
            "view": format!("//depot/assets-{index}/... //workspace/..."),
            "use-tickets": false
        }),
        "tfs" => json!({
            "url": "https://tfs.example.com/tfs",
            "domain": "corp",
            "username": "builder",
            "project-path": format!("$/reports-{index}")
        }),
        "pipeline" => json!({
            "pipeline-name": format!("shared-library-{index}"),
            "stage-name": "publish"
        }),
        "package" => json!({
            "plugin-id": "deb.poller",
            "repository": { "REPO_URL": format!("https://apt.example.com/repo-{index}") },
            "package": { "PACKAGE_SPEC": format!("libpayments{index}") }
        }),
        _ => json!({
            "plugin-id": "github.pr",
            "scm": { "url": format!("https://git.example.com/payments/pr-{index}.git") }
        }),
    }
}

fn revision(material_type: &str, index: usize, number: usize, random: &mut SplitMix64) -> String {
    match material_type {
        "svn" | "perforce" | "tfs" => format!("{}", 48_000 + index * 100 + number),
        "pipeline" => format!("shared-library-{index}/{}/publish/1", 300 + number),
        "package" => format!("libpayments{index}-2.{number}.0"),
        _ => random.hex(40),
    }
}

/// Returns the `data` map of a modification. Plugin materials (package, scm) fill it with their
/// own keys, and the other material types send it empty.
fn modification_data(material_type: &str, index: usize, number: usize) -> Value {
    match material_type {
        "scm" => json!({
            "PR_ID": format!("{}", 4_100 + index * 10 + number),
            "PR_BRANCH": format!("feature/retry-budget-{number}"),
            "PR_AUTHOR": "Zoë Müller",
            "PR_TITLE": format!("Bound the retry budget of the settlement client (part {number})"),
            "PR_DESCRIPTION": "Keeps the client from retrying forever when the settlement \
                               service answers 503. Adds a test with a fake server. 构建 ✅"
        }),
        "package" => json!({
            "TRACKBACK_URL": format!("https://apt.example.com/repo-{index}/changes"),
            "PACKAGE_LOCATION": format!("pool/main/libpayments{index}_2.{number}.0_amd64.deb")
        }),
        _ => json!({}),
    }
}

fn job(index: usize, job_count: usize, start: DateTime<Utc>, random: &mut SplitMix64) -> Value {
    let scheduled = start + Duration::seconds(index as i64);
    let assigned = scheduled + Duration::seconds(12);
    let completed = assigned + Duration::seconds(300 + (index as i64 * 7) % 400);
    let result = if index + 1 == job_count {
        "Failed"
    } else {
        "Passed"
    };

    json!({
        "name": format!("suite-{index:03}"),
        "schedule-time": gocd_time(scheduled),
        "assign-time": gocd_time(assigned),
        "complete-time": gocd_time(completed),
        "state": "Completed",
        "result": result,
        "agent-uuid": random.uuid()
    })
}

/// Formats a time as API 3.0 and 4.0 send it: `yyyy-MM-dd'T'HH:mm:ss.SSSZ` with a +0000 offset.
fn gocd_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// SplitMix64, a small seeded pseudo-random generator, so the bodies are the same on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut text = String::with_capacity(digits + 16);
        while text.len() < digits {
            text.push_str(&format!("{:016x}", self.next()));
        }
        text.truncate(digits);
        text
    }

    fn uuid(&mut self) -> String {
        let hex = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}
