//! The plugin with delivery wired in, driven through `Plugin::handle` as GoCD drives it, against
//! real HTTP receivers on loopback and real queue folders.

mod delivery_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use delivery_support::{temp_dir, wait_until, Mode, Receiver};
use herald::plugin::{Plugin, Response};
use serde_json::{json, Value};

/// Guard against a hanging test, far above the expected time; the retry wait after a failed
/// attempt starts at 1 s and doubles.
const LIMIT: Duration = Duration::from_secs(60);

const PASSED_ID: &str = "déploiement/12/构建/1/Passed";
const CANCELLED_ID: &str = "mobile-release/207/sign-and-upload/2/Cancelled";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Notification API version and body of a passed stage.
fn passed_body() -> (&'static str, Vec<u8>) {
    ("4.0", fixture("stage-status/api-4.0-passed.json"))
}

/// Notification API version and body of a cancelled stage.
fn cancelled_body() -> (&'static str, Vec<u8>) {
    ("3.0", fixture("stage-status/api-3.0-cancelled.json"))
}

fn body_json(response: &Response) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("response {:?} is not JSON: {error}", response.body))
}

/// Sends `settings` the way GoCD does after an admin saves them.
fn change_settings(plugin: &Plugin, settings: &[(&str, &str)]) -> Response {
    let map: serde_json::Map<String, Value> = settings
        .iter()
        .map(|(key, value)| (key.to_string(), json!(value)))
        .collect();
    let body = Value::Object(map).to_string();
    plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(body.as_bytes()),
    )
}

/// Starts a plugin that delivers every stage event to one webhook named `name`.
fn started_plugin(queue: &Path, name: &str, receiver: &Receiver) -> Plugin {
    let plugin = Plugin::new();
    plugin.start();
    let destinations = format!("{name} webhook {}", receiver.url("/hook"));
    let rules = format!("on=all -> {name}");
    let response = change_settings(
        &plugin,
        &[
            ("delivery_destinations", &destinations),
            ("delivery_rules", &rules),
            ("delivery_queue_dir", queue.to_str().unwrap()),
        ],
    );
    assert_eq!(response.code, 200, "settings change: {}", response.body);
    assert!(plugin.delivery_running());
    plugin
}

fn stage_status(plugin: &Plugin, (api_version, body): &(&str, Vec<u8>)) -> Value {
    body_json(&plugin.handle("stage-status", api_version, Some(body)))
}

fn queued_files(queue: &Path, destination: &str) -> Vec<PathBuf> {
    match fs::read_dir(queue.join("queue").join(destination)) {
        Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Names of this process's threads that run a sender whose destination name starts with
/// `prefix`. Linux shortens thread names to 15 bytes, so `prefix` should be 3 bytes at most.
#[cfg(target_os = "linux")]
fn sender_threads(prefix: &str) -> Vec<String> {
    let wanted = format!("herald-send-{prefix}");
    fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_string())
        .filter(|name| name.starts_with(&wanted))
        .collect()
}

#[test]
fn stage_event_reaches_webhook() {
    let receiver = Receiver::start(Mode::Ok);
    let queue = temp_dir("plugin-deliver");
    let plugin = started_plugin(&queue, "e2e", &receiver);
    let server_info =
        br#"{"server_id": "s1", "site_url": "http://127.0.0.1:8153/go", "secure_site_url": null}"#;
    plugin.apply_server_info(Some(server_info)).unwrap();

    let passed = passed_body();
    assert_eq!(
        stage_status(&plugin, &passed),
        json!({ "status": "success" })
    );

    receiver.wait_for(LIMIT, "the stage event", |requests| !requests.is_empty());
    let request = &receiver.delivered()[0];
    assert_eq!(request.path, "/hook");
    // The header carries the id percent-encoded, so its UTF-8 bytes survive any HTTP stack.
    assert_eq!(
        request.header("x-herald-event-id"),
        Some("d%C3%A9ploiement/12/%E6%9E%84%E5%BB%BA/1/Passed")
    );
    let webhook = request.json();
    assert_eq!(webhook["schema"], "herald.webhook/1");
    assert_eq!(webhook["event_id"], PASSED_ID);
    assert_eq!(webhook["kinds"], json!(["passed"]));
    assert_eq!(webhook["event"]["pipeline"]["group"], "production");
    let original: Value = serde_json::from_slice(&passed.1).unwrap();
    assert_eq!(webhook["gocd"], original);
    let stage_url = webhook["stage_url"].as_str().unwrap();
    assert!(
        stage_url.starts_with("http://127.0.0.1:8153/go/pipelines/"),
        "stage URL {stage_url} does not use the server's site URL once"
    );

    plugin.stop();
    assert!(!plugin.delivery_running());
    wait_until(LIMIT, "the delivered file to be removed", || {
        queued_files(&queue, "e2e").is_empty()
    });
}

#[test]
fn site_url_setting_overrides_server() {
    let receiver = Receiver::start(Mode::Ok);
    let queue = temp_dir("plugin-site-url");
    let plugin = Plugin::new();
    plugin.start();
    let server_info =
        br#"{"server_id": "s1", "site_url": "http://127.0.0.1:8153/go", "secure_site_url": null}"#;
    plugin.apply_server_info(Some(server_info)).unwrap();
    let destinations = format!("site webhook {}", receiver.url("/hook"));
    change_settings(
        &plugin,
        &[
            ("delivery_destinations", &destinations),
            ("delivery_rules", "-> site"),
            ("delivery_site_url", "https://gocd.example.com"),
            ("delivery_queue_dir", queue.to_str().unwrap()),
        ],
    );

    assert_eq!(
        stage_status(&plugin, &passed_body()),
        json!({ "status": "success" })
    );

    receiver.wait_for(LIMIT, "the stage event", |requests| !requests.is_empty());
    let webhook = receiver.delivered()[0].json();
    let stage_url = webhook["stage_url"].as_str().unwrap();
    assert!(
        stage_url.starts_with("https://gocd.example.com/"),
        "stage URL {stage_url} does not use the site URL setting"
    );
    plugin.stop();
}

#[test]
fn failing_destination_fails_answer_until_recovery() {
    let receiver = Receiver::start(Mode::Status(500));
    let queue = temp_dir("plugin-failing");
    let plugin = started_plugin(&queue, "ops", &receiver);

    // The first response may come before or after the first attempt fails, so either status
    // is correct here.
    let first = stage_status(&plugin, &passed_body());
    assert!(
        first["status"] == "success" || first["status"] == "failure",
        "answer: {first}"
    );
    wait_until(LIMIT, "the destination to be reported failing", || {
        !plugin.delivery_status().is_empty()
    });

    let answer = stage_status(&plugin, &cancelled_body());
    assert_eq!(answer["status"], "failure");
    let messages = answer["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "messages: {messages:?}");
    let message = messages[0].as_str().unwrap();
    assert!(
        message.starts_with(
            "Destination ops is failing: 2 events waiting, last error: HTTP status 500"
        ),
        "message: {message}"
    );
    assert!(
        !message.contains("127.0.0.1"),
        "message names the URL: {message}"
    );

    receiver.set_mode(Mode::Ok);
    receiver.wait_for(LIMIT, "both events to be delivered", |requests| {
        requests.iter().filter(|r| r.answered == Mode::Ok).count() == 2
    });
    wait_until(LIMIT, "the destination to recover", || {
        plugin.delivery_status().is_empty()
    });
    assert_eq!(receiver.delivered_ids(), vec![PASSED_ID, CANCELLED_ID]);

    assert_eq!(
        stage_status(&plugin, &passed_body()),
        json!({ "status": "success" })
    );
    plugin.stop();
}

#[test]
fn rejected_event_is_set_aside() {
    let receiver = Receiver::start(Mode::Status(410));
    let queue = temp_dir("plugin-rejected");
    let plugin = started_plugin(&queue, "gone", &receiver);
    let rejected_dir = queue.join("rejected").join("gone");

    stage_status(&plugin, &passed_body());
    wait_until(LIMIT, "the rejected event to be set aside", || {
        fs::read_dir(&rejected_dir)
            .map(|entries| entries.count() == 1)
            .unwrap_or(false)
    });
    wait_until(LIMIT, "the rejection to be reported", || {
        plugin
            .delivery_status()
            .iter()
            .any(|message| message.contains("rejected"))
    });
    assert!(queued_files(&queue, "gone").is_empty());

    // Later events are no longer held back by the rejected one.
    receiver.set_mode(Mode::Ok);
    let answer = stage_status(&plugin, &cancelled_body());
    receiver.wait_for(LIMIT, "the next event", |requests| {
        requests.iter().any(|r| r.answered == Mode::Ok)
    });
    assert_eq!(receiver.delivered_ids(), vec![CANCELLED_ID]);

    // The response reports the rejection until the rejected file is deleted.
    assert_eq!(answer["status"], "failure", "answer: {answer}");
    let message = answer["messages"][0].as_str().unwrap();
    assert!(
        message.starts_with(
            "Destination gone rejected 1 event with a client error (last: HTTP status 410)"
        ),
        "message: {message}"
    );
    fs::remove_dir_all(&rejected_dir).unwrap();
    assert_eq!(
        stage_status(&plugin, &passed_body()),
        json!({ "status": "success" })
    );
    plugin.stop();
}

#[test]
fn agent_status_opt_in_changes_interest() {
    let receiver = Receiver::start(Mode::Ok);
    let queue = temp_dir("plugin-agent");
    let plugin = Plugin::new();
    plugin.start();
    let interested = |api_version: &str| {
        body_json(&plugin.handle("notifications-interested-in", api_version, None))
    };
    assert_eq!(
        interested("4.0"),
        json!({ "notifications": ["stage-status"] })
    );

    let destinations = format!("agents webhook {}", receiver.url("/agents"));
    let response = change_settings(
        &plugin,
        &[
            ("delivery_destinations", &destinations),
            ("delivery_rules", "on=agent -> agents"),
            ("delivery_agent_status", "true"),
            ("delivery_queue_dir", queue.to_str().unwrap()),
        ],
    );
    assert_eq!(response.code, 200, "settings change: {}", response.body);

    assert_eq!(
        interested("4.0"),
        json!({ "notifications": ["stage-status", "agent-status"] })
    );
    assert_eq!(
        interested("3.0"),
        json!({ "notifications": ["stage-status", "agent-status"] })
    );
    assert_eq!(
        interested("2.0"),
        json!({ "notifications": ["stage-status"] })
    );
    assert_eq!(
        interested("1.0"),
        json!({ "notifications": ["stage-status"] })
    );

    let raw = fixture("agent-status/api-4.0-building.json");
    let answer = body_json(&plugin.handle("agent-status", "4.0", Some(&raw)));
    assert_eq!(answer, json!({ "status": "success" }));
    // A stage event matches no rule here, so nothing is sent for it.
    assert_eq!(
        stage_status(&plugin, &passed_body()),
        json!({ "status": "success" })
    );

    receiver.wait_for(LIMIT, "the agent event", |requests| !requests.is_empty());
    let request = &receiver.delivered()[0];
    let expected_id = "agent/5b1f2a64-9c1e-4f0b-8d2a-3e6c7d8f9a01/Building/Building/1774286469877";
    assert_eq!(request.header("x-herald-event-id"), Some(expected_id));
    let webhook = request.json();
    assert_eq!(webhook["type"], "agent-status");
    assert_eq!(webhook["event"]["host_name"], "build-agent-07");
    assert_eq!(
        webhook["gocd"]["uuid"],
        "5b1f2a64-9c1e-4f0b-8d2a-3e6c7d8f9a01"
    );

    plugin.stop();
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn validation_reports_bad_delivery_lines() {
    let plugin = Plugin::new();
    let request = json!({
        "plugin-settings": {
            "delivery_destinations": { "value": "ops webhook http://127.0.0.1:9/hook\nchat-only chat" },
            "delivery_destination_secrets": { "value": "ops=s3cret\nghost=hidden-value" },
            "delivery_rules": { "value": "pipeline=deploy-* on=broken -> ops, pager" },
            "delivery_queue_max_events": { "value": "many" },
        }
    })
    .to_string();

    let response = plugin.handle(
        "go.plugin-settings.validate-configuration",
        "4.0",
        Some(request.as_bytes()),
    );
    assert_eq!(response.code, 200);
    let problems = body_json(&response);
    assert_eq!(
        problems,
        json!([
            {
                "key": "delivery_destinations",
                "message": "line 2: expected NAME KIND URL (three words), e.g. \"ops-chat chat https://chat.example/hooks/...\", found 2 words"
            },
            {
                "key": "delivery_queue_max_events",
                "message": "expected a whole number greater than 0, found \"many\""
            },
            {
                "key": "delivery_rules",
                "message": "line 1: unknown destination \"pager\"; define it in the destinations field or use one of the defined names (defined: ops, chat-only)"
            },
            {
                "key": "delivery_destination_secrets",
                "message": "secret for unknown destination \"ghost\"; the names must match the destinations field"
            },
        ]),
        "references are checked on the same save as the syntax"
    );
    assert!(!response.body.contains("hidden-value"));

    let request = json!({
        "plugin-settings": {
            "delivery_destinations": { "value": "ops webhook http://127.0.0.1:9/hook" },
            "delivery_destination_secrets": { "value": "ops=s3cret\nghost=hidden-value" },
            "delivery_rules": { "value": "# deploys\npipeline=deploy-* on=broken -> ops, pager\nstage=test on=sometimes -> ops" },
        }
    })
    .to_string();
    let response = plugin.handle(
        "go.plugin-settings.validate-configuration",
        "4.0",
        Some(request.as_bytes()),
    );
    let problems = body_json(&response);
    let problems = problems.as_array().unwrap();
    assert_eq!(problems.len(), 3, "problems: {problems:?}");
    assert_eq!(problems[0]["key"], "delivery_rules");
    let message = problems[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("line 3: unknown event kind \"sometimes\""),
        "message: {message}"
    );
    assert_eq!(problems[1]["key"], "delivery_rules");
    let message = problems[1]["message"].as_str().unwrap();
    assert!(
        message.starts_with("line 2: unknown destination \"pager\""),
        "message: {message}"
    );
    assert_eq!(problems[2]["key"], "delivery_destination_secrets");
    assert_eq!(
        problems[2]["message"],
        "secret for unknown destination \"ghost\"; the names must match the destinations field"
    );

    let request = json!({
        "plugin-settings": {
            "delivery_destinations": { "value": "ops webhook http://127.0.0.1:9/hook" },
            "delivery_rules": { "value": "pipeline=deploy-* on=broken -> ops, pager" },
        }
    })
    .to_string();
    let response = plugin.handle(
        "go.plugin-settings.validate-configuration",
        "4.0",
        Some(request.as_bytes()),
    );
    let problems = body_json(&response);
    let problems = problems.as_array().unwrap();
    assert_eq!(problems.len(), 1, "problems: {problems:?}");
    assert_eq!(problems[0]["key"], "delivery_rules");
    let message = problems[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("line 1: unknown destination \"pager\""),
        "message: {message}"
    );
}

#[test]
fn invalid_delivery_settings_keep_engine() {
    let receiver = Receiver::start(Mode::Ok);
    let queue = temp_dir("plugin-invalid");
    let plugin = started_plugin(&queue, "keep", &receiver);

    let response = change_settings(
        &plugin,
        &[
            ("delivery_destinations", "keep webhook ftp://127.0.0.1/hook"),
            ("delivery_rules", "-> keep"),
        ],
    );
    assert_eq!(response.code, 400);
    assert!(plugin.delivery_running());

    // The event is still delivered with the settings in force, and the response reports the
    // rejected ones.
    let answer = stage_status(&plugin, &passed_body());
    assert_eq!(answer["status"], "failure", "{answer}");
    let message = answer["messages"][0].as_str().unwrap();
    assert!(message.contains("delivery_destinations"), "{message}");
    receiver.wait_for(LIMIT, "the stage event", |requests| !requests.is_empty());
    plugin.stop();
}

#[test]
fn no_destination_creates_no_queue() {
    let folder = temp_dir("plugin-no-destination");
    let queue = folder.join("queue-folder");
    let plugin = Plugin::new();
    plugin.start();
    change_settings(
        &plugin,
        &[
            ("delivery_rules", ""),
            ("delivery_queue_dir", queue.to_str().unwrap()),
        ],
    );

    assert!(!plugin.delivery_running());
    assert_eq!(
        stage_status(&plugin, &passed_body()),
        json!({ "status": "success" })
    );
    assert!(!queue.exists());
    plugin.stop();
}

#[test]
fn unusable_queue_folder_fails_until_fixed() {
    let receiver = Receiver::start(Mode::Ok);
    let folder = temp_dir("plugin-unusable");
    // A file where the queue folder should be, so the folder cannot be created.
    let queue = folder.join("queue");
    fs::write(&queue, b"not a folder").unwrap();
    let plugin = Plugin::new();
    plugin.start();
    let destinations = format!("fix webhook {}", receiver.url("/hook"));
    change_settings(
        &plugin,
        &[
            ("delivery_destinations", &destinations),
            ("delivery_rules", "-> fix"),
            ("delivery_queue_dir", queue.to_str().unwrap()),
        ],
    );
    assert!(!plugin.delivery_running());

    let answer = stage_status(&plugin, &passed_body());
    assert_eq!(answer["status"], "failure");
    let message = answer["messages"][0].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "Delivery is not running: delivery queue error: cannot use queue folder {}",
            queue.display()
        )),
        "message: {message}"
    );
    assert!(
        message.ends_with("or choose another queue folder in the Herald plugin settings. This event was not queued."),
        "message: {message}"
    );

    fs::remove_file(&queue).unwrap();
    assert_eq!(
        stage_status(&plugin, &cancelled_body()),
        json!({ "status": "success" })
    );
    assert!(plugin.delivery_running());
    receiver.wait_for(LIMIT, "the event after the fix", |requests| {
        !requests.is_empty()
    });
    assert_eq!(receiver.delivered_ids(), vec![CANCELLED_ID]);
    plugin.stop();
}

#[test]
fn stop_joins_senders_and_keeps_event() {
    let receiver = Receiver::start(Mode::Hang);
    let queue = temp_dir("plugin-stop");
    let plugin = started_plugin(&queue, "stp", &receiver);
    // The sender thread names itself when it starts running.
    #[cfg(target_os = "linux")]
    wait_until(LIMIT, "the sender thread to start", || {
        sender_threads("stp") == vec!["herald-send-stp"]
    });

    assert_eq!(
        stage_status(&plugin, &passed_body()),
        json!({ "status": "success" })
    );
    receiver.wait_for(LIMIT, "the request in flight", |requests| {
        !requests.is_empty()
    });

    // The receiver never answers, so stop cuts the request off at its deadline.
    plugin.stop();
    assert!(!plugin.delivery_running());
    #[cfg(target_os = "linux")]
    assert_eq!(sender_threads("stp"), Vec::<String>::new());
    assert_eq!(queued_files(&queue, "stp").len(), 1);

    // The next start delivers the event that was in flight, with the same id.
    receiver.set_mode(Mode::Ok);
    plugin.start();
    assert!(plugin.delivery_running());
    receiver.wait_for(LIMIT, "the event after the restart", |requests| {
        requests.iter().any(|r| r.answered == Mode::Ok)
    });
    assert_eq!(receiver.delivered_ids(), vec![PASSED_ID]);
    plugin.stop();
}

/// Measures `handle("stage-status")` with an idle destination and with one that never responds.
/// Run with `cargo test --release --test delivery_plugin -- --ignored --nocapture`; it prints
/// the figures and checks only that every request got code 200.
#[test]
#[ignore = "measurement; prints handle() latency"]
fn handle_latency_idle_versus_hung() {
    const REQUESTS: usize = 300;
    for mode in [Mode::Ok, Mode::Hang] {
        let receiver = Receiver::start(mode);
        let queue = temp_dir(&format!("plugin-latency-{mode:?}"));
        let plugin = started_plugin(&queue, "lat", &receiver);
        let passed = passed_body();

        let mut durations = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let start = std::time::Instant::now();
            let response = plugin.handle("stage-status", passed.0, Some(&passed.1));
            durations.push(start.elapsed());
            assert_eq!(response.code, 200);
        }
        durations.sort();
        let median = durations[REQUESTS / 2];
        let p99 = durations[REQUESTS * 99 / 100];
        println!(
            "destination {mode:?}: {REQUESTS} stage-status requests, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            median.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            durations[REQUESTS - 1].as_secs_f64() * 1000.0
        );
        plugin.stop();
    }
}
