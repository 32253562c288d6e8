use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;

use serde_json::Value;

use super::*;

const FLAT_EXAMPLE: &str = r#"{"pipeline-name": "build", "pipeline-counter": 1, "stage-name": "compile", "stage-counter": "1", "stage-state": "Passed", "stage-result": "Passed", "create-time": "2011-07-14T19:43:37.100Z"}"#;

fn temp_folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("herald-plugin-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&folder);
    fs::create_dir_all(&folder).unwrap();
    folder
}

fn plugin_with_event_log(path: &Path) -> Plugin {
    let plugin = Plugin::new();
    let settings = json!({ "event_log_path": path.to_str().unwrap() }).to_string();
    plugin
        .apply_plugin_settings(Some(settings.as_bytes()))
        .unwrap();
    plugin
}

fn body_json(response: &Response) -> Value {
    serde_json::from_str(&response.body).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read(path).unwrap()
}

#[test]
fn plugin_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Plugin>();
}

#[test]
fn stage_event_is_appended_as_one_line() {
    let folder = temp_folder("append");
    let path = folder.join("events.log");
    let plugin = plugin_with_event_log(&path);

    let response = plugin.handle("stage-status", "4.0", Some(FLAT_EXAMPLE.as_bytes()));
    assert_eq!(response, Response::ok(answer::success()));

    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1);
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["kind"], "stage-status");
    assert!(line["received_at"].as_str().unwrap().ends_with('Z'));
    let event: StageEvent = serde_json::from_value(line["event"].clone()).unwrap();
    assert_eq!(event.pipeline.name, "build");
    assert_eq!(event.stage.name, "compile");
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn agent_event_is_appended() {
    let folder = temp_folder("agent");
    let path = folder.join("events.log");
    let plugin = plugin_with_event_log(&path);

    let response = plugin.handle(
        "agent-status",
        "4.0",
        Some(&fixture("agent-status/api-4.0-building.json")),
    );
    assert_eq!(body_json(&response), json!({ "status": "success" }));

    let line: Value = serde_json::from_str(fs::read_to_string(&path).unwrap().trim_end()).unwrap();
    assert_eq!(line["kind"], "agent-status");
    let event: AgentEvent = serde_json::from_value(line["event"].clone()).unwrap();
    assert_eq!(event.host_name.as_deref(), Some("build-agent-07"));
    assert_eq!(
        event.transition_time.unwrap().to_rfc3339(),
        "2026-03-23T17:21:09.877+00:00"
    );
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn invalid_body_writes_no_event_line() {
    let folder = temp_folder("invalid");
    let path = folder.join("events.log");
    let plugin = plugin_with_event_log(&path);

    let response = plugin.handle("stage-status", "4.0", Some(b"{}"));
    assert_eq!(body_json(&response)["status"], "failure");
    assert!(!path.exists());
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn event_log_write_error_names_file_and_fix() {
    let folder = temp_folder("write-error");
    let path = folder.join("gone/events.log");
    let plugin = plugin_with_event_log(&path);

    let response = plugin.handle("stage-status", "4.0", Some(FLAT_EXAMPLE.as_bytes()));
    assert_eq!(response.code, 200);
    let expected = format!(
        "cannot append to event log {}: No such file or directory (os error 2). Check that its folder exists \
         and that the GoCD server user may write the file, or change the event log file in the Herald plugin settings",
        path.display()
    );
    assert_eq!(
        body_json(&response),
        json!({ "status": "failure", "messages": [expected] })
    );
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn concurrent_notifications_keep_lines_whole() {
    const THREADS: usize = 8;
    const CALLS_PER_THREAD: usize = 50;
    let folder = temp_folder("concurrent");
    let path = folder.join("events.log");
    let plugin = plugin_with_event_log(&path);
    let nested = fixture("stage-status/api-4.0-passed.json");

    thread::scope(|scope| {
        for thread_index in 0..THREADS {
            let plugin = &plugin;
            let nested = &nested;
            scope.spawn(move || {
                for call in 0..CALLS_PER_THREAD {
                    let flat = FLAT_EXAMPLE.replace(
                        "\"pipeline-counter\": 1",
                        &format!("\"pipeline-counter\": {}", thread_index * 1000 + call + 1),
                    );
                    let body = if call % 2 == 0 {
                        flat.into_bytes()
                    } else {
                        nested.clone()
                    };
                    let response = plugin.handle("stage-status", "4.0", Some(&body));
                    assert_eq!(response.body, answer::success());
                    // Settings requests arrive on other threads while notifications are handled.
                    let view = plugin.handle("go.plugin-settings.get-configuration", "4.0", None);
                    assert_eq!(view.code, 200);
                }
            });
        }
    });

    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), THREADS * CALLS_PER_THREAD);
    assert!(text.ends_with('\n'));
    let mut flat_counters = HashSet::new();
    for line in &lines {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("broken line {line:?}: {error}"));
        let event: StageEvent = serde_json::from_value(parsed["event"].clone()).unwrap();
        if event.source == crate::event::EventSource::Flat {
            assert!(
                flat_counters.insert(event.pipeline.counter),
                "counter {} twice",
                event.pipeline.counter
            );
        } else {
            assert_eq!(event.jobs.len(), 3);
        }
    }
    assert_eq!(flat_counters.len(), THREADS * CALLS_PER_THREAD / 2);
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn legacy_zone_setting_shifts_api_2_dates() {
    let plugin = Plugin::new();
    plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(br#"{"legacy_time_zone": "Europe/Berlin"}"#),
    );
    assert_eq!(
        plugin.settings().legacy_time_zone,
        chrono_tz::Europe::Berlin
    );

    let folder = temp_folder("legacy-zone");
    let path = folder.join("events.log");
    let settings =
        json!({ "event_log_path": path.to_str().unwrap(), "legacy_time_zone": "Europe/Berlin" })
            .to_string();
    plugin
        .apply_plugin_settings(Some(settings.as_bytes()))
        .unwrap();
    plugin.handle(
        "stage-status",
        "2.0",
        Some(&fixture("stage-status/api-2.0-failed.json")),
    );

    let line: Value = serde_json::from_str(fs::read_to_string(&path).unwrap().trim_end()).unwrap();
    // 2026-01-15T02:00:00.015 in Berlin (CET, UTC+1) is 01:00:00.015 UTC.
    assert_eq!(
        line["event"]["stage"]["create_time"],
        "2026-01-15T01:00:00.015Z"
    );
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn settings_changed_answers_empty_object() {
    let plugin = Plugin::new();
    let response = plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(br#"{"event_log_path": "/var/log/herald.log"}"#),
    );
    assert_eq!(response, Response::ok("{}".to_string()));
    assert_eq!(
        plugin.settings().event_log_path,
        Some(PathBuf::from("/var/log/herald.log"))
    );
}

#[test]
fn invalid_settings_keep_previous_ones() {
    let plugin = Plugin::new();
    plugin
        .apply_plugin_settings(Some(br#"{"legacy_time_zone": "Asia/Tokyo"}"#))
        .unwrap();

    let error = plugin
        .apply_plugin_settings(Some(br#"{"legacy_time_zone": "Asia/Atlantis"}"#))
        .unwrap_err();
    assert_eq!(
        error,
        "legacy_time_zone: \"Asia/Atlantis\" is not an IANA time zone name: enter a name such as UTC or Europe/Berlin"
    );
    assert_eq!(plugin.settings().legacy_time_zone, chrono_tz::Asia::Tokyo);
}

#[test]
fn rejected_settings_reported_until_fixed() {
    let plugin = Plugin::new();
    let flat = fixture("stage-status/flat-example.json");
    plugin
        .apply_plugin_settings(Some(br#"{"delivery_chat_template": "{pipline}"}"#))
        .unwrap_err();

    let rejected = body_json(&plugin.handle("stage-status", "4.0", Some(&flat)));
    assert_eq!(rejected["status"], "failure", "{rejected}");
    let message = rejected["messages"][0].as_str().unwrap();
    assert!(
        message.starts_with("Herald rejected its saved plugin settings"),
        "{message}"
    );
    assert!(
        message.contains("delivery_chat_template: line 1, column 1: unknown placeholder"),
        "{message}"
    );

    let agent = fixture("agent-status/api-4.0-building.json");
    let agent_answer = body_json(&plugin.handle("agent-status", "4.0", Some(&agent)));
    assert_eq!(agent_answer["status"], "failure", "{agent_answer}");

    plugin
        .apply_plugin_settings(Some(br#"{"delivery_chat_template": "{pipeline}"}"#))
        .unwrap();
    let fixed = body_json(&plugin.handle("stage-status", "4.0", Some(&flat)));
    assert_eq!(fixed["status"], "success", "{fixed}");
}

#[test]
fn rejected_settings_change_reported_too() {
    let plugin = Plugin::new();
    let flat = fixture("stage-status/flat-example.json");
    let changed = br#"{"legacy_time_zone": "Asia/Atlantis"}"#;

    let response = plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(changed),
    );
    assert_eq!(response.code, 400);
    let answer = body_json(&plugin.handle("stage-status", "4.0", Some(&flat)));
    let message = answer["messages"][0].as_str().unwrap();
    assert!(message.contains("Asia/Atlantis"), "{message}");
}

#[test]
fn null_settings_restore_defaults() {
    let plugin = Plugin::new();
    plugin
        .apply_plugin_settings(Some(br#"{"legacy_time_zone": "Asia/Tokyo"}"#))
        .unwrap();
    plugin.apply_plugin_settings(None).unwrap();
    assert_eq!(*plugin.settings(), Settings::default());
}

#[test]
fn server_info_keeps_urls() {
    let plugin = Plugin::new();
    assert_eq!(*plugin.server_info(), ServerInfo::default());
    plugin
        .apply_server_info(Some(
            br#"{"server_id": "df0cb9a4", "site_url": "http://127.0.0.1:8153", "secure_site_url": null, "extra": 1}"#,
        ))
        .unwrap();
    let info = plugin.server_info();
    assert_eq!(info.server_id.as_deref(), Some("df0cb9a4"));
    assert_eq!(info.site_url.as_deref(), Some("http://127.0.0.1:8153"));
    assert_eq!(info.secure_site_url, None);
}

#[test]
fn server_info_rejects_bad_body() {
    let plugin = Plugin::new();
    let error = plugin.apply_server_info(Some(b"[1]")).unwrap_err();
    assert!(
        error.starts_with("server info: expected an object"),
        "{error}"
    );
    assert_eq!(
        plugin.apply_server_info(None).unwrap_err(),
        "server info: body: missing (the request body is null), expected a JSON object"
    );
}

#[test]
fn unknown_request_gets_400_naming_it() {
    let response = Plugin::new().handle("go.cd.something-new", "4.0", Some(b"{}"));
    assert_eq!(response.code, 400);
    let message = body_json(&response)["messages"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.starts_with(
        "unsupported request \"go.cd.something-new\": Herald handles notifications-interested-in, "
    ));
}
