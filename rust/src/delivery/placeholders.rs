//! The placeholders of chat message templates and the chat bodies rendered from a template.
//!
//! Values that come from GoCD (names, labels, users, job names, agent fields) are escaped for
//! Slack mrkdwn as in the built-in message, so they cannot add links or mentions. The template
//! text itself is sent as written and may use mrkdwn (`*bold*`, `<url|text>`).

use super::payload::{
    self, describe_trigger, escape_mrkdwn, failed_job_names, headline, stage_title, stage_url,
    AgentView,
};
use super::rules::EventKind;
use super::template::Template;
use crate::event::StageEvent;

/// Placeholder names of stage-status templates, in the order the help text lists them.
pub const STAGE_PLACEHOLDERS: &[&str] = &[
    "pipeline",
    "counter",
    "label",
    "group",
    "stage",
    "stage_counter",
    "state",
    "result",
    "headline",
    "trigger",
    "failed_jobs",
    "stage_url",
    "title",
    "kinds",
];

/// Placeholder names of agent-status templates, named as GoCD's agent-status fields.
pub const AGENT_PLACEHOLDERS: &[&str] = &[
    "host_name",
    "uuid",
    "agent_state",
    "build_state",
    "agent_config_state",
    "ip_address",
    "operating_system",
    "free_space",
];

/// Builds the Slack-compatible body (`{"text": ...}`) of a stage event from a template. When
/// the rendered text is blank, returns the built-in message instead, because chat services
/// reject an empty message.
pub fn stage_chat_body(
    template: &Template,
    event: &StageEvent,
    kinds: &[EventKind],
    site_url: Option<&str>,
) -> String {
    let text =
        template.render(|name| stage_value(name, event, kinds, site_url).unwrap_or_default());
    if text.trim().is_empty() {
        return payload::stage_chat_body(event, kinds, site_url);
    }
    payload::chat_text_body(text)
}

/// Builds the Slack-compatible body of an agent event from a template, or the built-in message
/// when the rendered text is blank.
pub fn agent_chat_body(template: &Template, event: &dyn AgentView) -> String {
    let text = template.render(|name| agent_value(name, event).unwrap_or_default());
    if text.trim().is_empty() {
        return payload::agent_chat_body(event);
    }
    payload::chat_text_body(text)
}

/// Returns the value of a stage placeholder, or `None` for a name not in
/// [`STAGE_PLACEHOLDERS`]. Values absent from the event (label, group, site URL) are empty.
pub fn stage_value(
    name: &str,
    event: &StageEvent,
    kinds: &[EventKind],
    site_url: Option<&str>,
) -> Option<String> {
    let value = match name {
        "pipeline" => escape_mrkdwn(&event.pipeline.name),
        "counter" => event.pipeline.counter.to_string(),
        "label" => escape_mrkdwn(event.pipeline.label.as_deref().unwrap_or("")),
        "group" => escape_mrkdwn(event.pipeline.group.as_deref().unwrap_or("")),
        "stage" => escape_mrkdwn(&event.stage.name),
        "stage_counter" => event.stage.counter.to_string(),
        "state" => event.stage.state.as_str().to_string(),
        "result" => event.stage.result.as_str().to_string(),
        "headline" => headline(kinds).to_string(),
        "trigger" => describe_trigger(event),
        "failed_jobs" => failed_job_names(event).join(", "),
        "stage_url" => site_url
            .map(|url| stage_url(url, event))
            .unwrap_or_default(),
        "title" => stage_title(event, site_url),
        "kinds" => kinds
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => return None,
    };
    Some(value)
}

/// Returns the value of an agent placeholder, escaped for mrkdwn, or `None` for a name not in
/// [`AGENT_PLACEHOLDERS`].
pub fn agent_value(name: &str, event: &dyn AgentView) -> Option<String> {
    let value = match name {
        "host_name" => event.host_name(),
        "uuid" => event.uuid(),
        "agent_state" => event.agent_state(),
        "build_state" => event.build_state(),
        "agent_config_state" => event.agent_config_state(),
        "ip_address" => event.ip_address(),
        "operating_system" => event.operating_system(),
        "free_space" => event.free_space(),
        _ => return None,
    };
    Some(escape_mrkdwn(value))
}
