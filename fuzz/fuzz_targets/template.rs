//! Fuzzes the chat message template parser with arbitrary text. A template that parses is
//! written back and rendered against a fixed sample stage event. The checks: the parser loses
//! nothing, every placeholder is replaced, and the chat body is JSON. A rejected template must
//! point every problem at a character of the text.
#![no_main]

use herald::delivery::placeholders::{self, stage_value, STAGE_PLACEHOLDERS};
use herald::delivery::template::{Segment, Template};
use herald::delivery::EventKind;
use herald::protocol::stage::parse_stage_status;
use herald::settings::Settings;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A failed run with one failed job, from the shared fixtures.
const SAMPLE_BODY: &[u8] = include_bytes!("../../tests/fixtures/stage-status/api-2.0-failed.json");
const KINDS: [EventKind; 2] = [EventKind::Failed, EventKind::Broken];
const SITE_URL: Option<&str> = Some("http://127.0.0.1:8153/go");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Template::parse(text, STAGE_PLACEHOLDERS) {
        Ok(template) => check_rendering(text, &template),
        Err(errors) => {
            assert!(!errors.is_empty(), "a rejected template has a problem");
            for error in &errors {
                assert!(!error.message.is_empty(), "blank message at {error}");
                assert!(
                    char_at(text, error.line, error.column).is_some(),
                    "{error} is outside the text"
                );
            }
        }
    }
});

fn check_rendering(text: &str, template: &Template) {
    assert_eq!(
        written_back(template),
        text.replace("\r\n", "\n"),
        "the segments differ from the text"
    );

    // Parsed for every input rather than kept in a static, so that this target does not name
    // the event type, whose fields may come to borrow from the body.
    let zone = Settings::default().legacy_time_zone;
    let event = parse_stage_status(Some(SAMPLE_BODY), "2.0", zone)
        .expect("the sample body is a valid stage-status body");
    let value_of = |name: &str| {
        let value = stage_value(name, &event, &KINDS, SITE_URL)
            .expect("a parsed name is a known placeholder");
        assert!(
            !value.contains(['{', '}']),
            "the sample value of {{{name}}} has a brace: {value}"
        );
        value
    };
    let rendered = template.render(value_of);
    // The sample values have no braces, so the braces in the output must be exactly those of the
    // text segments. A placeholder left unreplaced would add two.
    let text_braces: usize = template
        .segments()
        .iter()
        .map(|segment| match segment {
            Segment::Text(text) => text.matches(['{', '}']).count(),
            Segment::Placeholder(_) => 0,
        })
        .sum();
    assert_eq!(
        rendered.matches(['{', '}']).count(),
        text_braces,
        "a placeholder was left in {rendered:?}"
    );

    let body = placeholders::stage_chat_body(template, &event, &KINDS, SITE_URL);
    let body: Value = serde_json::from_str(&body).expect("the chat body is JSON");
    let sent = body["text"]
        .as_str()
        .expect("the chat body has a text string");
    if !rendered.trim().is_empty() {
        assert_eq!(sent, rendered, "the chat body carries the rendered text");
    }
}

/// Writes segments back as template text: braces in text doubled, placeholders as `{name}`.
fn written_back(template: &Template) -> String {
    let mut source = String::new();
    for segment in template.segments() {
        match segment {
            Segment::Text(text) => source.push_str(&text.replace('{', "{{").replace('}', "}}")),
            Segment::Placeholder(name) => source.push_str(&format!("{{{name}}}")),
        }
    }
    source
}

/// Returns the character at a 1-based line and column, counting lines at `\n`.
fn char_at(text: &str, line: usize, column: usize) -> Option<char> {
    // `split_inclusive` keeps each line's `\n`, because a problem can point at a line break: the
    // length limit points at the first character past it, whatever that character is.
    text.split_inclusive('\n')
        .nth(line.checked_sub(1)?)?
        .chars()
        .nth(column.checked_sub(1)?)
}
