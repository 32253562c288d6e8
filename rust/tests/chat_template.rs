//! Chat message templates: placeholder values, the settings fields, and templated messages
//! delivered to a real HTTP receiver on loopback, through the engine and through the plugin.

mod delivery_support;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use delivery_support::{config, raw_body, stage_event, temp_dir, Mode, Receiver};
use herald::delivery::config::{Config, CHAT_TEMPLATE};
use herald::delivery::placeholders::{
    self, agent_value, stage_value, AGENT_PLACEHOLDERS, STAGE_PLACEHOLDERS,
};
use herald::delivery::template::Template;
use herald::delivery::{payload, AgentView, Engine, EventKind};
use herald::event::{StageEvent, StageState};
use herald::plugin::Plugin;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(20);
const SITE_URL: &str = "http://gocd.test:8153/";

/// Builds a failed run whose names carry mrkdwn markup, in group `apps&ops` with label `7-<rc>`.
fn marked_up_event() -> StageEvent<'static> {
    let mut event = stage_event("deploy<app>", 7, "build&test", 2, StageState::Failed);
    event.pipeline.group = Some("apps&ops".into());
    event.pipeline.label = Some("7-<rc>".into());
    event.stage.approved_by = Some("ann<admin>".into());
    event.jobs[1].name = "unit&<int>".into();
    event
}

fn value(name: &str, event: &StageEvent, kinds: &[EventKind], site_url: Option<&str>) -> String {
    stage_value(name, event, kinds, site_url)
        .unwrap_or_else(|| panic!("{name} is not a stage placeholder"))
}

fn stage_template(text: &str) -> Template {
    Template::parse(text, STAGE_PLACEHOLDERS).unwrap_or_else(|errors| panic!("{errors:?}"))
}

#[test]
fn stage_values_escape_gocd_text() {
    let event = marked_up_event();
    let kinds = [EventKind::Failed, EventKind::Broken];
    let site = Some(SITE_URL);

    let expected = [
        ("pipeline", "deploy&lt;app&gt;"),
        ("counter", "7"),
        ("label", "7-&lt;rc&gt;"),
        ("group", "apps&amp;ops"),
        ("stage", "build&amp;test"),
        ("stage_counter", "2"),
        ("state", "Failed"),
        ("result", "Failed"),
        ("headline", "is broken: it failed after passing"),
        ("trigger", "ann&lt;admin&gt;"),
        ("failed_jobs", "unit&amp;&lt;int&gt;"),
        (
            "stage_url",
            "http://gocd.test:8153/go/pipelines/deploy%3Capp%3E/7/build%26test/2",
        ),
        (
            "title",
            "<http://gocd.test:8153/go/pipelines/deploy%3Capp%3E/7/build%26test/2|deploy&lt;app&gt;/7/build&amp;test/2>",
        ),
        ("kinds", "failed, broken"),
    ];
    for (name, wanted) in expected {
        assert_eq!(value(name, &event, &kinds, site), wanted, "{{{name}}}");
    }
    let covered: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        covered, STAGE_PLACEHOLDERS,
        "a placeholder has no checked value"
    );
}

#[test]
fn stage_values_without_optional_fields() {
    let mut event = stage_event("deploy", 3, "build", 1, StageState::Passed);
    event.pipeline.group = None;
    event.pipeline.label = None;
    let kinds = [EventKind::Passed];

    assert_eq!(value("group", &event, &kinds, None), "");
    assert_eq!(value("label", &event, &kinds, None), "");
    assert_eq!(value("stage_url", &event, &kinds, None), "");
    assert_eq!(value("title", &event, &kinds, None), "deploy/3/build/1");
    assert_eq!(value("failed_jobs", &event, &kinds, None), "");
    assert_eq!(value("headline", &event, &kinds, None), "passed");
    assert_eq!(
        value("trigger", &event, &kinds, None),
        "changes (git 0123456789ab)"
    );
}

#[test]
fn unknown_names_have_no_value() {
    let event = stage_event("deploy", 3, "build", 1, StageState::Passed);
    assert_eq!(stage_value("pipline", &event, &[], None), None);
    assert_eq!(stage_value("host_name", &event, &[], None), None);
    assert_eq!(agent_value("pipeline", &TestAgent::new("h")), None);
}

#[test]
fn template_renders_into_chat_body() {
    let event = marked_up_event();
    let template = stage_template("*{pipeline}* #{counter} {{{result}}}\n\t{failed_jobs}");
    let body = placeholders::stage_chat_body(&template, &event, &[EventKind::Failed], None);
    let expected = json!({ "text": "*deploy&lt;app&gt;* #7 {Failed}\n\tunit&amp;&lt;int&gt;" });
    assert_eq!(body, expected.to_string());
}

#[test]
fn blank_rendering_sends_builtin_message() {
    let event = stage_event("deploy", 3, "build", 1, StageState::Passed);
    let kinds = [EventKind::Passed];
    // A passed run has no failed job, so this template renders only spaces and a line break.
    let template = stage_template(" {failed_jobs} \n {failed_jobs}");
    assert_eq!(
        placeholders::stage_chat_body(&template, &event, &kinds, Some(SITE_URL)),
        payload::stage_chat_body(&event, &kinds, Some(SITE_URL))
    );

    let agent = TestAgent::new("");
    let template = Template::parse("{host_name}", AGENT_PLACEHOLDERS).unwrap();
    assert_eq!(
        placeholders::agent_chat_body(&template, &agent),
        payload::agent_chat_body(&agent)
    );
}

#[test]
fn long_message_is_shortened_with_note() {
    let name = "p".repeat(payload::MAX_CHAT_TEXT_CHARS);
    let event = stage_event(&name, 3, "build", 1, StageState::Failed);
    let template = stage_template("{pipeline} {pipeline}");

    let body: Value =
        serde_json::from_str(&placeholders::stage_chat_body(&template, &event, &[], None)).unwrap();
    let text = body["text"].as_str().unwrap();
    let (kept, note) = text.split_at(payload::MAX_CHAT_TEXT_CHARS);
    assert!(kept
        .chars()
        .all(|character| character == 'p' || character == ' '));
    let full_length = 2 * payload::MAX_CHAT_TEXT_CHARS + 1;
    assert_eq!(
        note,
        format!("\n... (shortened by Herald from {full_length} characters)")
    );

    let built_in: Value =
        serde_json::from_str(&payload::stage_chat_body(&event, &[], None)).unwrap();
    assert!(built_in["text"].as_str().unwrap().ends_with("characters)"));
}

/// An agent that implements only the required methods, so the optional fields are empty.
struct TestAgent {
    host_name: String,
}

impl TestAgent {
    fn new(host_name: &str) -> TestAgent {
        TestAgent {
            host_name: host_name.to_string(),
        }
    }
}

impl AgentView for TestAgent {
    fn event_id(&self) -> String {
        "agent/u-1/LostContact".to_string()
    }
    fn host_name(&self) -> &str {
        &self.host_name
    }
    fn uuid(&self) -> &str {
        "u-1"
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
    fn to_json(&self) -> Value {
        json!({ "uuid": "u-1" })
    }
}

#[test]
fn agent_values_escape_and_default_empty() {
    let agent = TestAgent::new("build<01>&x");
    let expected = [
        ("host_name", "build&lt;01&gt;&amp;x"),
        ("uuid", "u-1"),
        ("agent_state", "LostContact"),
        ("build_state", "Idle"),
        ("agent_config_state", "Enabled"),
        ("ip_address", ""),
        ("operating_system", ""),
        ("free_space", ""),
    ];
    for (name, wanted) in expected {
        assert_eq!(
            agent_value(name, &agent).as_deref(),
            Some(wanted),
            "{{{name}}}"
        );
    }
    let covered: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        covered, AGENT_PLACEHOLDERS,
        "a placeholder has no checked value"
    );
}

fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

#[test]
fn config_reports_template_problems_by_field() {
    let values = settings(&[
        (CHAT_TEMPLATE, "Stage {title}\n{pipline} }"),
        ("delivery_agent_chat_template", "{host_name"),
    ]);
    let errors = Config::from_settings(&values, temp_dir("template-config")).unwrap_err();
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|error| (error.key, error.message.as_str()))
        .collect();
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].0, "delivery_chat_template");
    assert!(
        found[0].1.starts_with(
            "line 2, column 1: unknown placeholder {pipline} (did you mean {pipeline}?)"
        ),
        "{}",
        found[0].1
    );
    assert_eq!(
        found[1],
        (
            "delivery_chat_template",
            "line 2, column 11: lone }: write }} for a literal brace"
        )
    );
    assert_eq!(found[2].0, "delivery_agent_chat_template");
    assert!(
        found[2].1.starts_with("line 1, column 1: unclosed {"),
        "{}",
        found[2].1
    );
}

#[test]
fn config_keeps_builtin_for_blank_template() {
    let values = settings(&[(CHAT_TEMPLATE, " \n ")]);
    let config = Config::from_settings(&values, temp_dir("template-blank")).unwrap();
    assert!(config.chat_template.is_none());
    assert!(config.agent_chat_template.is_none());

    let values = settings(&[(CHAT_TEMPLATE, "{title}")]);
    let config = Config::from_settings(&values, temp_dir("template-set")).unwrap();
    assert_eq!(config.chat_template, Some(stage_template("{title}")));
}

#[test]
fn templated_message_reaches_chat_receiver() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("template-chat");
    let destinations = format!(
        "ops chat {}\naudit webhook {}",
        receiver.url("/chat"),
        receiver.url("/hook")
    );
    let template = "Stage {title} {headline}\r\nby {trigger} ({kinds})\n{{jobs}}: {failed_jobs}";
    let config = config(
        &dir,
        &[
            ("delivery_destinations", &destinations),
            ("delivery_rules", "on=all -> ops, audit"),
            (CHAT_TEMPLATE, template),
        ],
    );
    let engine = Engine::open(config).unwrap();
    engine.set_server_site_url(Some(SITE_URL.to_string()));
    engine.start().unwrap();

    let event = marked_up_event();
    engine.accept(&event, &raw_body(&event)).unwrap();
    receiver.wait_for(LIMIT, "the chat and webhook requests", |r| r.len() >= 2);
    engine.stop(Duration::from_secs(2));

    let requests = receiver.delivered();
    let chat = requests.iter().find(|r| r.path == "/chat").unwrap();
    let expected_text = "Stage <http://gocd.test:8153/go/pipelines/deploy%3Capp%3E/7/build%26test/2|deploy&lt;app&gt;/7/build&amp;test/2> failed\nby ann&lt;admin&gt; (failed)\n{jobs}: unit&amp;&lt;int&gt;";
    assert_eq!(chat.json(), json!({ "text": expected_text }));
    assert_eq!(
        chat.header("content-type"),
        Some("application/json; charset=utf-8")
    );

    // The template changes chat messages only: webhooks keep their schema.
    let webhook = requests.iter().find(|r| r.path == "/hook").unwrap().json();
    assert_eq!(webhook["schema"], "herald.webhook/1");
    assert_eq!(webhook["event"]["pipeline"]["name"], "deploy<app>");
}

#[test]
fn empty_template_sends_builtin_bytes() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("template-builtin");
    let destinations = format!("ops chat {}", receiver.url("/chat"));
    let config = config(
        &dir,
        &[
            ("delivery_destinations", &destinations),
            ("delivery_rules", "on=all -> ops"),
            (CHAT_TEMPLATE, ""),
        ],
    );
    let engine = Engine::open(config).unwrap();
    engine.set_server_site_url(Some(SITE_URL.to_string()));
    engine.start().unwrap();

    let event = marked_up_event();
    let accepted = engine.accept(&event, &raw_body(&event)).unwrap();
    receiver.wait_for(LIMIT, "one chat message", |r| !r.is_empty());
    engine.stop(Duration::from_secs(2));

    let expected = payload::stage_chat_body(&event, &accepted.kinds, Some(SITE_URL));
    let received = String::from_utf8(receiver.delivered()[0].body.clone()).unwrap();
    assert_eq!(received, expected);
    assert!(
        received.starts_with(r#"{"text":"Stage *<http://"#),
        "{received}"
    );
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

#[test]
fn plugin_delivers_templated_agent_message() {
    let receiver = Receiver::start(Mode::Ok);
    let queue = temp_dir("template-plugin");
    let plugin = Plugin::new();
    plugin.start();

    let destinations = format!("ops chat {}", receiver.url("/ops"));
    let settings = json!({
        "delivery_destinations": destinations,
        "delivery_rules": "on=agent -> ops",
        "delivery_agent_status": "true",
        "delivery_queue_dir": queue.to_str().unwrap(),
        "delivery_agent_chat_template":
            "Agent *{host_name}* ({ip_address}, {operating_system}, {free_space} free)\n{agent_state}/{build_state}/{agent_config_state} {uuid}",
    })
    .to_string();
    let response = plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(settings.as_bytes()),
    );
    assert_eq!(response.code, 200, "settings change: {}", response.body);

    let raw = fixture("agent-status/api-4.0-building.json");
    let response = plugin.handle("agent-status", "4.0", Some(&raw));
    let answer: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(answer, json!({ "status": "success" }));

    receiver.wait_for(LIMIT, "the agent message", |r| !r.is_empty());
    plugin.stop();
    let text = receiver.delivered()[0].json()["text"].clone();
    assert_eq!(
        text,
        "Agent *build-agent-07* (10.20.30.47, Ubuntu 24.04.2 LTS, 87.4 GB free)\nBuilding/Building/Enabled 5b1f2a64-9c1e-4f0b-8d2a-3e6c7d8f9a01"
    );
}

#[test]
fn plugin_validation_names_template_field() {
    let plugin = Plugin::new();
    let request = json!({
        "plugin-settings": {
            "delivery_chat_template": { "value": "{pipeline} {stage" },
            "delivery_agent_chat_template": { "value": "{host_name} {state}" },
        }
    })
    .to_string();
    let response = plugin.handle(
        "go.plugin-settings.validate-configuration",
        "4.0",
        Some(request.as_bytes()),
    );
    assert_eq!(response.code, 200);
    let problems: Value = serde_json::from_str(&response.body).unwrap();
    let problems = problems.as_array().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0]["key"], "delivery_chat_template");
    assert_eq!(
        problems[0]["message"],
        "line 1, column 12: unclosed {: end the placeholder with } on the same line, or write {{ for a literal brace"
    );
    assert_eq!(problems[1]["key"], "delivery_agent_chat_template");
    let message = problems[1]["message"].as_str().unwrap();
    assert!(
        message.starts_with("line 1, column 13: unknown placeholder {state}; known placeholders: {host_name}, {uuid}"),
        "{message}"
    );
}
