use std::fs;
use std::path::PathBuf;

use super::*;

/// Creates an empty folder under the system temp folder, unique to this test.
fn temp_folder(name: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("herald-settings-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&folder);
    fs::create_dir_all(&folder).unwrap();
    folder
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn validation_message(key: &str, value: &str) -> Option<String> {
    let problems = validate(&values(&[(key, value)]));
    assert!(problems.len() <= 1, "{problems:?}");
    problems.into_iter().next().map(|problem| {
        assert_eq!(problem.key, key);
        problem.message
    })
}

#[test]
fn defaults_turn_event_log_off_and_use_utc() {
    let settings = Settings::default();
    assert_eq!(settings.event_log_path, None);
    assert_eq!(settings.legacy_time_zone, Tz::UTC);
    assert_eq!(settings.value(LEGACY_TIME_ZONE), Some("UTC"));
    assert_eq!(
        settings.interested_notifications("4.0"),
        vec!["stage-status"]
    );
}

#[test]
fn from_values_reads_typed_fields() {
    let settings = Settings::from_values(&values(&[
        (EVENT_LOG_PATH, " /var/log/herald.log "),
        (LEGACY_TIME_ZONE, "Asia/Shanghai"),
        ("future_field", "kept"),
    ]))
    .unwrap();
    assert_eq!(
        settings.event_log_path,
        Some(PathBuf::from("/var/log/herald.log"))
    );
    assert_eq!(settings.legacy_time_zone, chrono_tz::Asia::Shanghai);
    assert_eq!(settings.value("future_field"), Some("kept"));
}

#[test]
fn from_values_empty_zone_takes_default() {
    let settings = Settings::from_values(&values(&[(LEGACY_TIME_ZONE, "  ")])).unwrap();
    assert_eq!(settings.legacy_time_zone, Tz::UTC);
}

#[test]
fn from_values_reports_each_bad_field() {
    let problems = Settings::from_values(&values(&[
        (EVENT_LOG_PATH, "events.log"),
        (LEGACY_TIME_ZONE, "Mars/Base"),
    ]))
    .unwrap_err();
    let keys: Vec<&str> = problems
        .iter()
        .map(|problem| problem.key.as_str())
        .collect();
    assert_eq!(keys, vec![EVENT_LOG_PATH, LEGACY_TIME_ZONE]);
}

#[test]
fn configuration_lists_every_field() {
    let configuration = configuration();
    let object = configuration.as_object().unwrap();
    assert_eq!(object.len(), FIELDS.len());
    for field in FIELDS {
        let entry = &object[field.key];
        assert_eq!(entry["display-name"], field.display_name);
        assert_eq!(entry["default-value"], field.default_value);
        assert_eq!(entry["required"], field.required);
        assert_eq!(entry["secure"], field.secure);
        assert!(entry["display-order"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .is_ok());
    }
}

#[test]
fn view_binds_every_field_and_its_error() {
    let template = view()["template"].as_str().unwrap().to_string();
    for field in FIELDS {
        assert!(
            template.contains(&format!("ng-model=\"{}\"", field.key)),
            "{}",
            field.key
        );
        assert!(
            template.contains(&format!("{{{{GOINPUTNAME[{}].$error.server}}}}", field.key)),
            "{}",
            field.key
        );
    }
    assert!(template.contains("server&#39;s local time zone"));
}

#[test]
fn validate_accepts_empty_and_good_values() {
    let folder = temp_folder("good");
    let path = folder.join("events.log");
    assert_eq!(validation_message(EVENT_LOG_PATH, ""), None);
    assert_eq!(
        validation_message(EVENT_LOG_PATH, path.to_str().unwrap()),
        None
    );
    assert_eq!(validation_message(LEGACY_TIME_ZONE, "Europe/Berlin"), None);
    assert_eq!(validation_message(LEGACY_TIME_ZONE, ""), None);
    assert_eq!(
        fs::read_dir(&folder).unwrap().count(),
        0,
        "the probe file was left behind"
    );
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn validate_accepts_existing_writable_file() {
    let folder = temp_folder("existing");
    let path = folder.join("events.log");
    fs::write(&path, "earlier line\n").unwrap();
    assert_eq!(
        validation_message(EVENT_LOG_PATH, path.to_str().unwrap()),
        None
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "earlier line\n");
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn validate_rejects_relative_path() {
    assert_eq!(
        validation_message(EVENT_LOG_PATH, "logs/events.log").unwrap(),
        "\"logs/events.log\" is not an absolute path: enter a path that starts with /, such as \
         /var/log/go-server/herald-events.log"
    );
}

#[test]
fn validate_rejects_missing_folder() {
    let folder = temp_folder("missing");
    let path = folder.join("no-such-folder/events.log");
    assert_eq!(
        validation_message(EVENT_LOG_PATH, path.to_str().unwrap()).unwrap(),
        format!(
            "folder {} does not exist: create it or choose a file in an existing folder",
            folder.join("no-such-folder").display()
        )
    );
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn validate_rejects_folder_as_file() {
    let folder = temp_folder("folder");
    let message = validation_message(EVENT_LOG_PATH, folder.to_str().unwrap()).unwrap();
    assert_eq!(
        message,
        format!(
            "{} is a folder: enter the path of a file inside it",
            folder.display()
        )
    );
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn validate_rejects_folder_without_new_files() {
    // The kernel refuses new files in /proc even for root, so this holds for any test user.
    let message = validation_message(EVENT_LOG_PATH, "/proc/herald-events.log").unwrap();
    assert!(
        message.starts_with("cannot create files in folder /proc: "),
        "{message}"
    );
    assert!(
        message.ends_with("Give the GoCD server user write access or choose another folder"),
        "{message}"
    );
}

#[test]
fn validate_rejects_unknown_zone() {
    assert_eq!(
        validation_message(LEGACY_TIME_ZONE, "Europe/Atlantis").unwrap(),
        "\"Europe/Atlantis\" is not an IANA time zone name: enter a name such as UTC or Europe/Berlin"
    );
}

#[test]
fn parse_validation_request_reads_values() {
    let body = br#"{"plugin-settings": {"event_log_path": {"value": "/tmp/x.log"}, "legacy_time_zone": {}}}"#;
    let parsed = parse_validation_request(Some(body)).unwrap();
    assert_eq!(
        parsed,
        values(&[(EVENT_LOG_PATH, "/tmp/x.log"), (LEGACY_TIME_ZONE, "")])
    );
}

#[test]
fn parse_validation_request_reports_bad_entries() {
    let body = br#"{"plugin-settings": {"event_log_path": "/tmp/x.log", "legacy_time_zone": {"value": 1}}}"#;
    let problems: Vec<String> = parse_validation_request(Some(body))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        vec![
            "plugin-settings.event_log_path: expected an object with a value, found \"/tmp/x.log\"",
            "plugin-settings.legacy_time_zone.value: expected a string or null, found the number 1",
        ]
    );
}

#[test]
fn parse_validation_request_requires_plugin_settings() {
    let problems = parse_validation_request(Some(b"{}")).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "plugin-settings: missing, expected an object of settings"
    );
}

#[test]
fn parse_stored_values_null_means_never_saved() {
    assert_eq!(parse_stored_values(None).unwrap(), BTreeMap::new());
    assert_eq!(parse_stored_values(Some(b"null")).unwrap(), BTreeMap::new());
}

#[test]
fn parse_stored_values_reads_flat_map() {
    let parsed = parse_stored_values(Some(
        br#"{"event_log_path": null, "legacy_time_zone": "UTC"}"#,
    ))
    .unwrap();
    assert_eq!(
        parsed,
        values(&[(EVENT_LOG_PATH, ""), (LEGACY_TIME_ZONE, "UTC")])
    );
}

#[test]
fn parse_stored_values_reports_non_strings() {
    let problems = parse_stored_values(Some(br#"{"legacy_time_zone": ["UTC"]}"#)).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "legacy_time_zone: expected a string or null, found an array"
    );
}

#[test]
fn delivery_rows_follow_delivery_fields() {
    let delivery_keys: Vec<&str> = DELIVERY_FIELDS.iter().map(|field| field.key).collect();
    let row_keys: Vec<&str> = FIELDS
        .iter()
        .map(|field| field.key)
        .filter(|key| key.starts_with("delivery_"))
        .collect();
    assert_eq!(row_keys, delivery_keys);

    for row in FIELDS.iter().filter(|row| row.key.starts_with("delivery_")) {
        let field = DELIVERY_FIELDS.iter().find(|f| f.key == row.key).unwrap();
        assert_eq!(row.display_name, field.display_name, "{}", row.key);
        assert_eq!(row.default_value, field.default_value, "{}", row.key);
        assert_eq!(row.secure, field.secure, "{}", row.key);
        assert_eq!(row.help, field.help, "{}", row.key);
    }
}

#[test]
fn display_orders_count_up_from_zero() {
    let orders: Vec<String> = FIELDS
        .iter()
        .map(|field| field.display_order.to_string())
        .collect();
    let expected: Vec<String> = (0..FIELDS.len()).map(|n| n.to_string()).collect();
    assert_eq!(orders, expected);
}

#[test]
fn view_uses_textareas_for_line_fields() {
    let template = view()["template"].as_str().unwrap().to_string();
    for key in [
        delivery_config::DESTINATIONS,
        delivery_config::DESTINATION_SECRETS,
        delivery_config::RULES,
        delivery_config::CA_BUNDLE,
        delivery_config::CHAT_TEMPLATE,
        delivery_config::AGENT_CHAT_TEMPLATE,
    ] {
        assert!(
            template.contains(&format!("<textarea ng-model=\"{key}\"")),
            "{key}"
        );
    }
    assert!(template.contains("<input type=\"text\" ng-model=\"delivery_queue_dir\""));
    assert!(template.contains("Example: pipeline=deploy-* on=broken,fixed -&gt; ops-chat"));
}

#[test]
fn secrets_field_is_secure() {
    let configuration = configuration();
    assert_eq!(
        configuration[delivery_config::DESTINATION_SECRETS]["secure"],
        true
    );
    assert_eq!(
        configuration[delivery_config::DESTINATIONS]["secure"],
        false
    );
}

#[test]
fn agent_status_needs_opt_in_and_api_3() {
    let off = Settings::default();
    assert_eq!(off.interested_notifications("4.0"), vec!["stage-status"]);

    let on = Settings::from_values(&values(&[(delivery_config::AGENT_STATUS, "TRUE")])).unwrap();
    assert!(on.agent_status);
    for version in ["3.0", "4.0", "10.0"] {
        assert_eq!(
            on.interested_notifications(version),
            vec!["stage-status", "agent-status"],
            "API {version}"
        );
    }
    for version in ["1.0", "2.0", "", "x"] {
        assert_eq!(
            on.interested_notifications(version),
            vec!["stage-status"],
            "API {version}"
        );
    }
}

#[test]
fn from_values_rejects_bad_delivery_values() {
    let problems = Settings::from_values(&values(&[
        (
            delivery_config::DESTINATIONS,
            "ops pager http://127.0.0.1:9/",
        ),
        (delivery_config::QUEUE_DIR, "relative/queue"),
    ]))
    .unwrap_err();
    assert_eq!(
        problems,
        vec![
            FieldProblem {
                key: delivery_config::QUEUE_DIR.to_string(),
                message: not_absolute_folder_message("relative/queue"),
            },
            FieldProblem {
                key: delivery_config::DESTINATIONS.to_string(),
                message: "line 1: unknown kind \"pager\"; expected webhook or chat".to_string(),
            },
        ]
    );
}

#[test]
fn delivery_config_defaults_to_working_directory() {
    let config = Settings::default().delivery_config();
    assert_eq!(
        config.queue_dir,
        std::env::current_dir().unwrap().join("herald-queue")
    );
    assert!(config.destinations.is_empty());

    let folder = temp_folder("config-queue");
    let settings = Settings::from_values(&values(&[(
        delivery_config::QUEUE_DIR,
        folder.to_str().unwrap(),
    )]))
    .unwrap();
    assert_eq!(settings.delivery_config().queue_dir, folder);
}

#[test]
fn queue_folder_validation() {
    let folder = temp_folder("queue-validation");
    let file = folder.join("file");
    fs::write(&file, b"").unwrap();
    let key = delivery_config::QUEUE_DIR;

    assert_eq!(validation_message(key, folder.to_str().unwrap()), None);
    let missing = folder.join("new/deeper");
    assert_eq!(validation_message(key, missing.to_str().unwrap()), None);
    assert!(!missing.exists(), "validation must not create the folder");

    assert_eq!(
        validation_message(key, "queue"),
        Some(not_absolute_folder_message("queue"))
    );
    assert_eq!(
        validation_message(key, file.to_str().unwrap()),
        Some(format!(
            "{} is not a folder: enter the path of a folder, which Herald creates when it is missing",
            file.display()
        ))
    );
    let under_file = file.join("queue");
    assert_eq!(
        validation_message(key, under_file.to_str().unwrap()),
        Some(format!(
            "{} is a file, so folder {} cannot be created: choose another folder",
            file.display(),
            under_file.display()
        ))
    );
    fs::remove_dir_all(folder).unwrap();
}

#[test]
fn view_help_is_not_bound() {
    // AngularJS would read the {{ }} of the template help as an expression.
    let template = view()["template"].as_str().unwrap().to_string();
    assert_eq!(
        template
            .matches("<span class=\"form_help\" ng-non-bindable>")
            .count(),
        FIELDS.len()
    );
    assert!(template.contains("Write {{ and }} for literal braces."));
}

#[test]
fn template_help_lists_placeholders_and_limit() {
    use crate::delivery::placeholders::{AGENT_PLACEHOLDERS, STAGE_PLACEHOLDERS};
    use crate::delivery::template::MAX_TEMPLATE_CHARS;

    let help = |key: &str| FIELDS.iter().find(|field| field.key == key).unwrap().help;
    let limit = format!("At most {MAX_TEMPLATE_CHARS} characters.");
    for (key, names) in [
        (delivery_config::CHAT_TEMPLATE, STAGE_PLACEHOLDERS),
        (delivery_config::AGENT_CHAT_TEMPLATE, AGENT_PLACEHOLDERS),
    ] {
        let text = help(key);
        for name in names {
            assert!(
                text.contains(&format!("{{{name}}}")),
                "{key} help lacks {{{name}}}"
            );
        }
        assert!(text.contains(&limit), "{key} help lacks the limit");
    }
}

#[test]
fn template_help_examples_are_valid() {
    use crate::delivery::placeholders::{AGENT_PLACEHOLDERS, STAGE_PLACEHOLDERS};
    use crate::delivery::template::Template;

    for (key, names) in [
        (delivery_config::CHAT_TEMPLATE, STAGE_PLACEHOLDERS),
        (delivery_config::AGENT_CHAT_TEMPLATE, AGENT_PLACEHOLDERS),
    ] {
        let help = FIELDS.iter().find(|field| field.key == key).unwrap().help;
        let (_, example) = help.rsplit_once("Example: ").unwrap();
        assert!(Template::parse(example, names).is_ok(), "{key}: {example}");
    }
}

#[test]
fn validate_reports_each_template_problem() {
    let problems = validate(&values(&[(
        delivery_config::CHAT_TEMPLATE,
        "{pipeline} {{ok}}\n  {counter {pipline}",
    )]));
    let messages: Vec<(&str, &str)> = problems
        .iter()
        .map(|problem| (problem.key.as_str(), problem.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages
        .iter()
        .all(|(key, _)| *key == delivery_config::CHAT_TEMPLATE));
    assert!(
        messages[0].1.starts_with("line 2, column 3: unclosed {"),
        "{}",
        messages[0].1
    );
    assert!(
        messages[1]
            .1
            .starts_with("line 2, column 12: unknown placeholder {pipline}"),
        "{}",
        messages[1].1
    );
}

#[test]
fn validate_accepts_good_templates() {
    assert_eq!(
        validation_message(delivery_config::CHAT_TEMPLATE, "{title} {headline}\n{{x}}"),
        None
    );
    assert_eq!(
        validation_message(
            delivery_config::AGENT_CHAT_TEMPLATE,
            "{host_name} is {agent_state}"
        ),
        None
    );
    assert_eq!(
        validation_message(delivery_config::AGENT_CHAT_TEMPLATE, "{pipeline}")
            .unwrap()
            .split(';')
            .next(),
        Some("line 1, column 1: unknown placeholder {pipeline}")
    );
}

#[test]
fn from_values_rejects_bad_template() {
    let problems =
        Settings::from_values(&values(&[(delivery_config::CHAT_TEMPLATE, "}")])).unwrap_err();
    assert_eq!(
        problems,
        vec![FieldProblem {
            key: delivery_config::CHAT_TEMPLATE.to_string(),
            message: "line 1, column 1: lone }: write }} for a literal brace".to_string(),
        }]
    );
}

#[test]
fn validate_limits_problems_per_field() {
    let template = "{x}".repeat(1300);
    let problems = validate(&values(&[(delivery_config::CHAT_TEMPLATE, &template)]));
    assert_eq!(problems.len(), answer::MAX_MESSAGES + 1);
    assert_eq!(
        problems.last().map(|problem| problem.message.as_str()),
        Some("and 1280 more problems")
    );
}
