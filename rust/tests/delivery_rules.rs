//! Rules and delivery settings: what parses, and the messages shown to the admin for what does not.

use std::collections::HashMap;

use herald::delivery::config::{validate_settings, DESTINATIONS, DESTINATION_SECRETS, RULES};
use herald::delivery::rules::{Glob, Rules, Subject};
use herald::delivery::{EventKind, SETTINGS_FIELDS};

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn stage<'a>(group: Option<&'a str>, pipeline: &'a str, stage: &'a str) -> Subject<'a> {
    Subject::Stage {
        group,
        pipeline,
        stage,
    }
}

#[test]
fn glob_matches_case_insensitively() {
    assert!(Glob::new("deploy-*").matches("Deploy-Web"));
    assert!(Glob::new("*").matches(""));
    assert!(Glob::new("a?c").matches("abc"));
    assert!(!Glob::new("a?c").matches("ac"));
    assert!(Glob::new("*-prod-*").matches("web-prod-eu"));
    assert!(!Glob::new("*-prod-*").matches("web-prod"));
    assert!(Glob::new("a*b*c").matches("aXXbYYbZc"));
    assert!(!Glob::new("deploy").matches("deploy-web"));
}

#[test]
fn valid_rules_parse_with_lines() {
    let text = "\
# comment line

group=apps pipeline=deploy-* stage=* on=failed,broken,fixed -> ops-chat, audit-hook
   on=all -> audit-hook
on=agent -> ops-chat
pipeline=* on=all,agent -> audit-hook
";
    let rules = Rules::parse(text, &names(&["ops-chat", "audit-hook"])).unwrap();
    assert_eq!(rules.rules.len(), 4);
    assert_eq!(rules.rules[0].line, 3);
    assert_eq!(rules.rules[1].line, 4);
    assert_eq!(
        rules.rules[0].destinations,
        names(&["ops-chat", "audit-hook"])
    );
    assert_eq!(
        rules.rules[1].kinds, None,
        "on=all selects every stage kind"
    );
}

#[test]
fn valid_rules_route_by_kind_and_group() {
    let text = "\
group=apps pipeline=deploy-* on=failed,broken,fixed -> ops-chat, audit-hook
on=all -> audit-hook
on=agent -> ops-chat
group=infra -> infra
";
    let rules = Rules::parse(text, &names(&["ops-chat", "audit-hook", "infra"])).unwrap();

    let routed = rules.route(
        &stage(Some("APPS"), "deploy-web", "build"),
        &[EventKind::Failed],
    );
    assert_eq!(routed, names(&["ops-chat", "audit-hook"]));

    let routed = rules.route(
        &stage(Some("apps"), "deploy-web", "build"),
        &[EventKind::Passed],
    );
    assert_eq!(routed, names(&["audit-hook"]));

    let routed = rules.route(&stage(None, "deploy-web", "build"), &[EventKind::Failed]);
    assert_eq!(
        routed,
        names(&["audit-hook"]),
        "a named group never matches a null group"
    );

    let routed = rules.route(
        &stage(Some("infra"), "dns", "apply"),
        &[EventKind::Building],
    );
    assert_eq!(routed, names(&["audit-hook", "infra"]));

    let routed = rules.route(&Subject::Agent, &[EventKind::Agent]);
    assert_eq!(
        routed,
        names(&["ops-chat"]),
        "on=all must not select agent events"
    );
}

#[test]
fn invalid_rules_give_one_message_per_line() {
    let text = "\
pipeline=deploy-* on=failed ops-chat
on=failed -> ops-chat

pipe=deploy -> ops-chat
on=failed,exploded -> ops-chat
on=failed -> ops-chat, nowhere
stage=build stage=test -> ops-chat
on=agent pipeline=deploy -> ops-chat
on= -> ops-chat
deploy -> ops-chat
on=failed -> ops-chat,
on=all,failed -> ops-chat
";
    let errors = Rules::parse(text, &names(&["ops-chat"])).unwrap_err();
    let expected = [
        "line 1: missing \"->\" before the destination names; expected e.g. \"pipeline=deploy-* on=failed -> ops-chat\", found \"pipeline=deploy-* on=failed ops-chat\"",
        "line 4: unknown key \"pipe\"; expected group=, pipeline=, stage= or on=",
        "line 5: unknown event kind \"exploded\" in on=; expected one or more of building, passed, failed, cancelled, broken, fixed, all, agent, separated by commas",
        "line 6: unknown destination \"nowhere\"; define it in the destinations field or use one of the defined names (defined: ops-chat)",
        "line 7: stage= appears twice; write it once",
        "line 8: on=agent cannot be combined with group=, pipeline= or stage= patterns because agent-status events have none; write agent rules on a line of their own",
        "line 9: on= has no value; write a pattern such as on=* or remove it",
        "line 10: expected key=value (group=, pipeline=, stage= or on=), found \"deploy\"",
        "line 11: empty destination name after \"->\"; expected names separated by commas, e.g. \"-> ops-chat, audit-hook\"",
        "line 12: on=all already includes every stage event kind; write on=all alone, or on=all,agent",
    ];
    assert_eq!(errors, expected);
}

#[test]
fn unknown_destination_without_any_defined() {
    let errors = Rules::parse("-> ops", &[]).unwrap_err();
    assert_eq!(
        errors,
        ["line 1: unknown destination \"ops\"; define it in the destinations field or use one of the defined names (none are defined)"]
    );
}

fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn settings_validation_names_fields() {
    let values = settings(&[
        (
            DESTINATIONS,
            "ops chat https://chat.example/hooks/abc\nops webhook https://x.example/\nbad name webhook https://x.example/\naudit sms https://x.example/\nhook webhook ftp://x.example/",
        ),
        (DESTINATION_SECRETS, "ops=\nhook=topsecretvalue"),
        (RULES, "-> ops"),
        ("delivery_max_event_age_hours", "0"),
        ("delivery_queue_max_events", "lots"),
        ("delivery_agent_status", "yes"),
        ("delivery_site_url", "gocd.example"),
    ]);
    let errors = validate_settings(&values);
    let messages: Vec<(String, String)> = errors
        .iter()
        .map(|e| (e.key.to_string(), e.message.clone()))
        .collect();
    let expected = [
        (DESTINATIONS, "line 2: destination \"ops\" is defined twice (names are compared without regard to case)"),
        (DESTINATIONS, "line 3: expected NAME KIND URL (three words), e.g. \"ops-chat chat https://chat.example/hooks/...\", found 4 words"),
        (DESTINATIONS, "line 4: unknown kind \"sms\"; expected webhook or chat"),
        (DESTINATIONS, "line 5: invalid URL for \"hook\"; expected an http:// or https:// URL"),
        (DESTINATION_SECRETS, "line 1: expected NAME=SECRET with a destination name and a non-empty secret"),
        ("delivery_site_url", "expected a URL starting with http:// or https://, found \"gocd.example\""),
        ("delivery_max_event_age_hours", "expected a whole number greater than 0, found \"0\""),
        ("delivery_queue_max_events", "expected a whole number greater than 0, found \"lots\""),
        ("delivery_agent_status", "expected true or false, found \"yes\""),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, m)| (k.to_string(), m.to_string()))
        .collect();
    assert_eq!(messages, expected);
    for (_, message) in &messages {
        assert!(!message.contains("topsecretvalue"), "secret in {message}");
        assert!(!message.contains("hooks/abc"), "URL in {message}");
    }
}

#[test]
fn rules_checked_against_destinations() {
    let values = settings(&[
        (DESTINATIONS, "ops chat https://chat.example/hooks/abc"),
        (RULES, "on=failed -> ops\non=passed -> audit"),
    ]);
    let errors = validate_settings(&values);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, RULES);
    assert!(errors[0]
        .message
        .starts_with("line 2: unknown destination \"audit\""));
}

#[test]
fn default_settings_are_valid() {
    assert!(validate_settings(&HashMap::new()).is_empty());
    for field in SETTINGS_FIELDS {
        assert!(
            (field.validate)(field.default_value).is_empty(),
            "default of {} is invalid",
            field.key
        );
        assert!(!field.help.is_empty(), "{} has no help text", field.key);
    }
    let secure: Vec<&str> = SETTINGS_FIELDS
        .iter()
        .filter(|f| f.secure)
        .map(|f| f.key)
        .collect();
    assert_eq!(secure, [DESTINATION_SECRETS]);
}
