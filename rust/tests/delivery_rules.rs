//! Rules and delivery settings: what parses, and the messages shown to the admin for what does not.

use std::collections::HashMap;

use herald::delivery::config::{
    validate_references, validate_settings, CA_BUNDLE, DESTINATIONS, DESTINATION_SECRETS, RULES,
};
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
        "line 9: on= has no value; write event kinds separated by commas, such as on=failed,broken (kinds: building, passed, failed, cancelled, broken, fixed, all, agent), or remove it",
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

#[test]
fn references_checked_despite_syntax_errors() {
    let values = settings(&[
        (
            DESTINATIONS,
            "ops chat https://chat.example/hooks/abc\nbroken webhook\nhook webhook ftp://x.example/",
        ),
        (DESTINATION_SECRETS, "ops=s1\nghost=s2\nnot a line"),
        (
            RULES,
            "on=failed -> ops\non=nothing -> ops\non=passed -> audit\non=fixed -> broken, hook",
        ),
    ]);
    let references: Vec<(String, String)> = validate_references(&values)
        .into_iter()
        .map(|e| (e.key.to_string(), e.message))
        .collect();
    assert_eq!(references.len(), 2, "{references:?}");
    assert_eq!(references[0].0, RULES);
    assert!(
        references[0]
            .1
            .starts_with("line 3: unknown destination \"audit\""),
        "{references:?}"
    );
    assert_eq!(
        references[1],
        (
            DESTINATION_SECRETS.to_string(),
            "secret for unknown destination \"ghost\"; the names must match the destinations field"
                .to_string()
        )
    );

    let keys: Vec<&str> = validate_settings(&values).iter().map(|e| e.key).collect();
    assert_eq!(
        keys,
        [
            DESTINATIONS,
            DESTINATIONS,
            DESTINATION_SECRETS,
            RULES,
            RULES,
            DESTINATION_SECRETS
        ]
    );
}

fn destination_errors(line: &str) -> Vec<String> {
    validate_settings(&settings(&[(DESTINATIONS, line)]))
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[test]
fn destination_port_out_of_range() {
    assert_eq!(
        destination_errors("hook webhook http://127.0.0.1:99999/x"),
        ["line 1: port 99999 is out of range (1 to 65535) for \"hook\""]
    );
    assert!(destination_errors("hook webhook http://127.0.0.1:65535/x").is_empty());
    assert!(destination_errors("hook webhook http://[::1]/x").is_empty());
    assert_eq!(
        destination_errors("hook webhook http://[::1]:70000/x").len(),
        1
    );
}

#[test]
fn destination_credentials_rejected() {
    for url in [
        "http://user:pw4711@127.0.0.1/x",
        "https://pw4711@127.0.0.1/",
    ] {
        let errors = destination_errors(&format!("hook webhook {url}"));
        assert_eq!(errors.len(), 1, "{url}: {errors:?}");
        assert!(
            errors[0].starts_with(
                "line 1: credentials in the URL (***@ before the host) are not supported"
            ),
            "{errors:?}"
        );
        assert!(errors[0].contains("destination secret"), "{errors:?}");
        assert!(!errors[0].contains("pw4711"), "password in {errors:?}");
    }
}

fn ca_bundle_errors(value: &str) -> Vec<String> {
    let field = SETTINGS_FIELDS
        .iter()
        .find(|field| field.key == CA_BUNDLE)
        .unwrap();
    (field.validate)(value)
}

#[test]
fn ca_bundle_path_instead_of_pem() {
    let folder = std::env::temp_dir().join(format!("herald-ca-path-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("ca.pem");
    std::fs::write(&file, "not PEM").unwrap();
    let missing = folder.join("missing.pem");

    let errors = ca_bundle_errors(missing.to_str().unwrap());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("was not found"), "{errors:?}");

    let errors = ca_bundle_errors(folder.to_str().unwrap());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("is a folder, not a file"), "{errors:?}");

    let errors = ca_bundle_errors(file.to_str().unwrap());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("is a file path: this field takes the PEM text"),
        "{errors:?}"
    );

    let errors = ca_bundle_errors("just some text");
    assert_eq!(
        errors,
        ["the CA bundle contains no \"BEGIN CERTIFICATE\" block"]
    );
    std::fs::remove_dir_all(&folder).unwrap();
}
