//! Delivery engine against real HTTP receivers on loopback and real queue folders.

mod delivery_support;

use std::fs;
use std::time::Duration;

use delivery_support::{config, raw_body, stage_event, temp_dir, wait_until, Mode, Receiver};
use herald::delivery::{DeliveryError, Engine, EventKind};
use herald::event::StageState;

const LIMIT: Duration = Duration::from_secs(20);

fn destinations(lines: &[String]) -> String {
    lines.join("\n")
}

#[test]
fn webhook_body_is_signed_and_complete() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("webhook");
    let config = config(
        &dir,
        &[
            (
                "delivery_destinations",
                &format!("audit webhook {}", receiver.url("/hook")),
            ),
            ("delivery_destination_secrets", "audit=s3cret"),
            ("delivery_rules", "on=all -> audit"),
        ],
    );
    let engine = Engine::open(config).unwrap();
    engine.start().unwrap();

    let event = stage_event("deploy", 12, "build", 1, StageState::Failed);
    let raw = raw_body(&event);
    let accepted = engine.accept(&event, &raw).unwrap();
    assert_eq!(accepted.destinations, vec!["audit".to_string()]);

    receiver.wait_for(LIMIT, "one delivery", |r| !r.is_empty());
    let request = &receiver.requests()[0];
    assert_eq!(request.path, "/hook");
    assert_eq!(
        request.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        request.header("x-herald-event-id"),
        Some("deploy/12/build/1/Failed")
    );
    assert!(
        request.signature_valid("s3cret"),
        "signature does not verify"
    );
    assert!(
        !request.signature_valid("other"),
        "signature verifies with a wrong secret"
    );

    let body = request.json();
    assert_eq!(body["schema"], "herald.webhook/1");
    assert_eq!(body["event_id"], "deploy/12/build/1/Failed");
    assert_eq!(body["type"], "stage-status");
    assert_eq!(body["kinds"], serde_json::json!(["failed"]));
    assert_eq!(body["event"]["pipeline"]["name"], "deploy");
    assert_eq!(body["event"]["stage"]["counter"], 1);
    let original: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(body["gocd"], original);
    assert!(body["stage_url"].is_null());

    engine.stop(Duration::from_secs(2));
}

#[test]
fn chat_body_links_and_escapes() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("chat");
    let config = config(
        &dir,
        &[
            (
                "delivery_destinations",
                &format!("ops chat {}", receiver.url("/chat")),
            ),
            ("delivery_rules", "pipeline=DEPLOY* on=failed -> ops"),
        ],
    );
    let engine = Engine::open(config).unwrap();
    engine.set_server_site_url(Some("http://gocd.test:8153/".to_string()));
    engine.start().unwrap();

    let mut event = stage_event("deploy-app", 7, "build", 2, StageState::Failed);
    event.stage.approved_by = Some("a<b>&c".into());
    event.jobs[1].name = "unit&<int>".into();
    engine.accept(&event, &raw_body(&event)).unwrap();

    receiver.wait_for(LIMIT, "one chat message", |r| !r.is_empty());
    let text = receiver.requests()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains(
            "<http://gocd.test:8153/go/pipelines/deploy-app/7/build/2|deploy-app/7/build/2>"
        ),
        "no stage link in {text:?}"
    );
    assert!(text.contains(" failed"), "no result in {text:?}");
    assert!(
        text.contains("Triggered by: a&lt;b&gt;&amp;c"),
        "trigger not escaped in {text:?}"
    );
    assert!(
        text.contains("Failed jobs: unit&amp;&lt;int&gt;"),
        "failed jobs missing in {text:?}"
    );
    assert!(!text.contains("compile"), "passed job listed in {text:?}");

    engine.stop(Duration::from_secs(2));
}

#[test]
fn failures_retry_and_report_status() {
    let receiver = Receiver::start(Mode::Status(500));
    let dir = temp_dir("retry");
    let url = receiver.url("/services/T000/B000/token-that-is-secret");
    let config = config(
        &dir,
        &[
            ("delivery_destinations", &format!("ops chat {url}")),
            ("delivery_rules", "-> ops"),
        ],
    );
    let engine = Engine::open(config).unwrap();
    engine.start().unwrap();
    assert!(engine.status().is_empty());

    let event = stage_event("deploy", 1, "build", 1, StageState::Passed);
    engine.accept(&event, &raw_body(&event)).unwrap();

    receiver.wait_for(LIMIT, "two answers of 500", |r| r.len() >= 2);
    wait_until(LIMIT, "a failing status", || !engine.status().is_empty());
    let status = engine.status();
    assert_eq!(status.len(), 1);
    assert!(
        status[0].starts_with("Destination ops is failing: 1 event waiting"),
        "{status:?}"
    );
    assert!(
        status[0].contains("last error: HTTP status 500"),
        "{status:?}"
    );
    assert!(
        !status[0].contains("token-that-is-secret"),
        "URL leaked: {status:?}"
    );

    receiver.set_mode(Mode::Close);
    wait_until(LIMIT, "a connection error in the status", || {
        engine
            .status()
            .first()
            .is_some_and(|s| !s.contains("HTTP status 500"))
    });

    receiver.set_mode(Mode::Ok);
    receiver.wait_for(LIMIT, "the delivery", |r| {
        r.iter().any(|request| request.answered == Mode::Ok)
    });
    wait_until(LIMIT, "a healthy status", || engine.status().is_empty());
    assert_eq!(
        receiver.delivered_ids(),
        vec!["deploy/1/build/1/Passed".to_string()]
    );

    engine.stop(Duration::from_secs(2));
}

#[test]
fn hung_destination_delays_no_other() {
    let hung = Receiver::start(Mode::Hang);
    let healthy = Receiver::start(Mode::Ok);
    let dir = temp_dir("hung");
    let settings_destinations = destinations(&[
        format!("slow webhook {}", hung.url("/")),
        format!("fast webhook {}", healthy.url("/")),
    ]);
    let settings = [
        ("delivery_destinations", settings_destinations.as_str()),
        ("delivery_rules", "-> slow, fast"),
        // Far longer than the test: stop must cut the hung request off, not wait it out.
        ("delivery_request_timeout_seconds", "3600"),
    ];
    let engine = Engine::open(config(&dir, &settings)).unwrap();
    engine.start().unwrap();

    let mut expected = Vec::new();
    for counter in 1..=5 {
        let event = stage_event("deploy", counter, "build", 1, StageState::Building);
        expected.push(event.event_id());
        engine.accept(&event, &raw_body(&event)).unwrap();
    }

    healthy.wait_for(LIMIT, "five deliveries", |r| r.len() >= 5);
    assert_eq!(
        healthy.delivered_ids(),
        expected,
        "order differs from acceptance order"
    );
    hung.wait_for(LIMIT, "the hung request", |r| !r.is_empty());

    let engine = std::sync::Arc::new(engine);
    let (stopped_sender, stopped) = std::sync::mpsc::channel();
    let stopping_engine = std::sync::Arc::clone(&engine);
    std::thread::spawn(move || {
        stopping_engine.stop(Duration::from_millis(100));
        stopped_sender.send(()).unwrap();
    });
    // The limit guards against a hang; it is not a timing check.
    assert!(
        stopped.recv_timeout(LIMIT).is_ok(),
        "stop did not cut off the hung request"
    );
    assert!(
        engine.status().is_empty(),
        "a cut-off request counted as a failure"
    );
    assert_eq!(engine.waiting()["fast"], 0);
    assert_eq!(engine.waiting()["slow"], 5);

    // The hung destination's events stay queued across a restart.
    drop(engine);
    let reopened = Engine::open(config(&dir, &settings)).unwrap();
    assert_eq!(reopened.waiting()["slow"], 5);
    assert_eq!(reopened.waiting()["fast"], 0);
}

#[test]
fn full_queue_rejects_new_events() {
    let dir = temp_dir("full");
    let config = config(
        &dir,
        &[
            ("delivery_destinations", "audit webhook http://127.0.0.1:9/"),
            ("delivery_rules", "-> audit"),
            ("delivery_queue_max_events", "3"),
        ],
    );
    let engine = Engine::open(config).unwrap();

    for counter in 1..=3 {
        let event = stage_event("deploy", counter, "build", 1, StageState::Building);
        engine.accept(&event, &raw_body(&event)).unwrap();
    }
    let event = stage_event("deploy", 4, "build", 1, StageState::Building);
    let error = engine.accept(&event, &raw_body(&event)).unwrap_err();

    assert!(
        matches!(
            error,
            DeliveryError::QueueFull {
                queued: 3,
                max_count: 3,
                needed: 1,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("delivery queue is full (3 deliveries"),
        "{message}"
    );
    assert!(
        message.contains("this event needed 1 delivery ("),
        "{message}"
    );
    assert!(message.contains("and was not queued"), "{message}");
    assert_eq!(engine.waiting()["audit"], 3, "queued events were dropped");
}

#[test]
fn corrupt_queue_file_is_quarantined() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("corrupt");
    let settings_destinations = format!("audit webhook {}", receiver.url("/"));
    let settings = [
        ("delivery_destinations", settings_destinations.as_str()),
        ("delivery_rules", "-> audit"),
    ];

    let engine = Engine::open(config(&dir, &settings)).unwrap();
    let first = stage_event("deploy", 1, "build", 1, StageState::Building);
    let second = stage_event("deploy", 2, "build", 1, StageState::Building);
    engine.accept(&first, &raw_body(&first)).unwrap();
    engine.accept(&second, &raw_body(&second)).unwrap();
    drop(engine);

    let queue = dir.join("queue").join("audit");
    let mut files: Vec<_> = fs::read_dir(&queue)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    fs::write(&files[0], b"{\"seq\": 1, \"event_id\": ").unwrap();
    fs::write(queue.join(".tmp-00000000000000000009.json"), b"partial").unwrap();
    fs::write(queue.join("notes.txt"), b"stray file").unwrap();

    let engine = Engine::open(config(&dir, &settings)).unwrap();
    engine.start().unwrap();
    receiver.wait_for(LIMIT, "the intact event", |r| !r.is_empty());
    wait_until(LIMIT, "an empty queue", || engine.waiting()["audit"] == 0);
    engine.stop(Duration::from_secs(2));

    assert_eq!(receiver.delivered_ids(), vec![second.event_id()]);
    let quarantined: Vec<String> = fs::read_dir(dir.join("quarantine").join("audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        quarantined.contains(&"notes.txt".to_string()),
        "{quarantined:?}"
    );
    assert!(
        quarantined.iter().any(|name| name.ends_with("1.json")),
        "{quarantined:?}"
    );
    assert!(!queue.join(".tmp-00000000000000000009.json").exists());
}

#[test]
fn old_events_are_given_up() {
    let receiver = Receiver::start(Mode::Status(503));
    let dir = temp_dir("age");
    let mut config = config(
        &dir,
        &[
            (
                "delivery_destinations",
                &format!("audit webhook {}", receiver.url("/")),
            ),
            ("delivery_rules", "-> audit"),
        ],
    );
    config.max_event_age = Duration::from_millis(200);
    let engine = Engine::open(config).unwrap();
    engine.start().unwrap();

    let event = stage_event("deploy", 1, "build", 1, StageState::Failed);
    engine.accept(&event, &raw_body(&event)).unwrap();

    wait_until(LIMIT, "the event to be given up", || {
        engine.waiting()["audit"] == 0
    });
    engine.stop(Duration::from_secs(2));
    assert!(!receiver.requests().is_empty(), "no attempt was made");
    assert!(receiver.delivered().is_empty());
    let left = fs::read_dir(dir.join("queue").join("audit"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "given-up file is still queued");
}

#[test]
fn stop_joins_senders_that_back_off() {
    let receiver = Receiver::start(Mode::Status(500));
    let dir = temp_dir("stop");
    let mut config = config(
        &dir,
        &[
            (
                "delivery_destinations",
                &format!("audit webhook {}", receiver.url("/")),
            ),
            ("delivery_rules", "-> audit"),
        ],
    );
    config.retry_min = Duration::from_secs(600);
    config.retry_max = Duration::from_secs(600);
    let engine = Engine::open(config).unwrap();
    engine.start().unwrap();

    let event = stage_event("deploy", 1, "build", 1, StageState::Failed);
    engine.accept(&event, &raw_body(&event)).unwrap();
    receiver.wait_for(LIMIT, "the first attempt", |r| !r.is_empty());

    // The sender now waits ten minutes before retrying; stop must wake and join it.
    engine.stop(Duration::from_secs(2));
    assert_eq!(engine.waiting()["audit"], 1);
}

fn kinds(
    engine: &Engine,
    pipeline_counter: u64,
    stage_counter: u64,
    state: StageState,
) -> Vec<EventKind> {
    let event = stage_event("deploy", pipeline_counter, "build", stage_counter, state);
    engine.accept(&event, &raw_body(&event)).unwrap().kinds
}

#[test]
fn broken_and_fixed_across_reruns_and_restart() {
    use EventKind::*;
    use StageState as S;

    let dir = temp_dir("history");
    let settings = [("delivery_rules", "")];
    let engine = Engine::open(config(&dir, &settings)).unwrap();

    assert_eq!(kinds(&engine, 1, 1, S::Building), vec![Building]);
    assert_eq!(
        kinds(&engine, 1, 1, S::Passed),
        vec![Passed],
        "first run has no previous run"
    );
    assert_eq!(kinds(&engine, 2, 1, S::Failing), vec![Building]);
    assert_eq!(kinds(&engine, 2, 1, S::Failed), vec![Failed, Broken]);
    assert_eq!(
        kinds(&engine, 2, 2, S::Failed),
        vec![Failed],
        "re-run after a failure"
    );
    drop(engine);

    let engine = Engine::open(config(&dir, &settings)).unwrap();
    assert_eq!(kinds(&engine, 3, 1, S::Cancelled), vec![Cancelled]);
    assert_eq!(
        kinds(&engine, 4, 1, S::Failed),
        vec![Failed],
        "cancelled run is skipped"
    );
    assert_eq!(kinds(&engine, 5, 1, S::Passed), vec![Passed, Fixed]);
    assert_eq!(
        kinds(&engine, 5, 2, S::Failed),
        vec![Failed, Broken],
        "re-run compares with run 1"
    );
    assert_eq!(
        kinds(&engine, 4, 2, S::Passed),
        vec![Passed, Fixed],
        "late re-run of pipeline 4"
    );
    assert_eq!(kinds(&engine, 6, 1, S::Cancelled), vec![Cancelled]);
    drop(engine);

    let engine = Engine::open(config(&dir, &settings)).unwrap();
    assert_eq!(
        kinds(&engine, 6, 2, S::Passed),
        vec![Passed, Fixed],
        "compares with 5/2"
    );
    assert_eq!(
        kinds(&engine, 6, 2, S::Passed),
        vec![Passed, Fixed],
        "same event again"
    );
    assert_eq!(kinds(&engine, 7, 1, S::Passed), vec![Passed]);

    // Another stage of the same pipeline has a history of its own.
    let other = stage_event("deploy", 7, "test", 1, S::Failed);
    let accepted = engine.accept(&other, &raw_body(&other)).unwrap();
    assert_eq!(accepted.kinds, vec![Failed]);
}

#[test]
fn rules_route_each_destination_once() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("rules");
    let settings_destinations = destinations(&[
        format!("ops chat {}", receiver.url("/ops")),
        format!("audit webhook {}", receiver.url("/audit")),
    ]);
    let rules = "\
# failures of deploy pipelines go to both
group=APPS pipeline=deploy-* on=failed,broken -> ops, audit
on=all -> audit

stage=build on=fixed -> ops
";
    let settings = [
        ("delivery_destinations", settings_destinations.as_str()),
        ("delivery_rules", rules),
    ];
    let engine = Engine::open(config(&dir, &settings)).unwrap();

    let route = |pipeline: &str, counter: u64, state: StageState| {
        let event = stage_event(pipeline, counter, "build", 1, state);
        engine
            .accept(&event, &raw_body(&event))
            .unwrap()
            .destinations
    };
    assert_eq!(route("deploy-web", 1, StageState::Passed), vec!["audit"]);
    assert_eq!(
        route("deploy-web", 2, StageState::Failed),
        vec!["ops", "audit"]
    );
    assert_eq!(
        route("deploy-web", 3, StageState::Passed),
        vec!["audit", "ops"]
    );
    assert_eq!(route("other", 1, StageState::Failed), vec!["audit"]);
    assert_eq!(engine.waiting()["audit"], 4);
    assert_eq!(engine.waiting()["ops"], 2);
}

struct TestAgent {
    uuid: String,
    host_name: String,
}

impl herald::delivery::AgentView for TestAgent {
    fn event_id(&self) -> String {
        format!("agent/{}/LostContact", self.uuid)
    }
    fn host_name(&self) -> &str {
        &self.host_name
    }
    fn uuid(&self) -> &str {
        &self.uuid
    }
    fn agent_state(&self) -> &str {
        "LostContact"
    }
    fn build_state(&self) -> &str {
        "Idle"
    }
    fn agent_config_state(&self) -> &str {
        "Enabled"
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "uuid": self.uuid, "host_name": self.host_name })
    }
}

#[test]
fn agent_events_follow_agent_rules() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("agent");
    let settings_destinations = destinations(&[
        format!("ops chat {}", receiver.url("/ops")),
        format!("audit webhook {}", receiver.url("/audit")),
    ]);
    let settings = [
        ("delivery_destinations", settings_destinations.as_str()),
        ("delivery_rules", "on=all -> audit\non=agent -> ops, audit"),
    ];
    let engine = Engine::open(config(&dir, &settings)).unwrap();
    engine.start().unwrap();

    let agent = TestAgent {
        uuid: "a1b2".to_string(),
        host_name: "build<01>".to_string(),
    };
    let raw = br#"{"uuid":"a1b2","host_name":"build<01>","agent_state":"LostContact"}"#;
    let accepted = engine.accept_agent(&agent, raw).unwrap();
    assert_eq!(accepted.kinds, vec![EventKind::Agent]);
    assert_eq!(accepted.destinations, vec!["ops", "audit"]);

    receiver.wait_for(LIMIT, "two deliveries", |r| r.len() >= 2);
    engine.stop(Duration::from_secs(2));

    let requests = receiver.requests();
    let chat = requests.iter().find(|r| r.path == "/ops").unwrap().json();
    let text = chat["text"].as_str().unwrap();
    assert!(
        text.starts_with("Agent *build&lt;01&gt;* (a1b2): LostContact"),
        "{text:?}"
    );
    let webhook = requests.iter().find(|r| r.path == "/audit").unwrap().json();
    assert_eq!(webhook["type"], "agent-status");
    assert_eq!(webhook["event_id"], "agent/a1b2/LostContact");
    assert_eq!(webhook["kinds"], serde_json::json!(["agent"]));
    assert_eq!(webhook["gocd"]["agent_state"], "LostContact");
}
