//! Request bodies for webhook and chat destinations, and the webhook signature.
//!
//! # Webhook body, schema `herald.webhook/1`
//!
//! A UTF-8 JSON object:
//!
//! - `schema`: `"herald.webhook/1"`. A change that removes or retypes a field gets a new
//!   number; new fields may be added within version 1.
//! - `event_id`: the same for every delivery of one notification, so receivers can drop
//!   duplicates. Stage events: `pipeline/counter/stage/counter/state`. Agent events: what the
//!   agent event type defines.
//! - `type`: `"stage-status"` or `"agent-status"`.
//! - `kinds`: the rule kinds the event has, e.g. `["failed", "broken"]`.
//! - `stage_url`: link to the stage page in GoCD, or null when no site URL is known (stage
//!   events only).
//! - `event`: the typed event as the plugin parsed it.
//! - `gocd`: the body GoCD sent, unchanged (or a string when it was not JSON).
//!
//! # Signature
//!
//! When the destination has a secret, the request carries the header
//! `X-Herald-Signature-256: sha256=<hex>`, where `<hex>` is the lowercase hex HMAC-SHA256 of
//! the exact request body bytes with the secret (UTF-8) as key. Receivers compute the same
//! value over the raw body and compare in constant time. Every request also carries
//! `X-Herald-Event-Id`: the event id, percent-encoded (RFC 3986) where it has bytes outside
//! printable ASCII or a `%`, so decoding the header gives the body's `event_id`.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::rules::EventKind;
use crate::event::{AgentEvent, StageEvent, StageResult};

/// Header with the HMAC-SHA256 signature of the body.
pub const SIGNATURE_HEADER: &str = "X-Herald-Signature-256";
/// Header with the event id.
pub const EVENT_ID_HEADER: &str = "X-Herald-Event-Id";
pub const WEBHOOK_SCHEMA: &str = "herald.webhook/1";

/// An agent-status event as delivery needs it. The protocol layer's agent event type
/// implements this, so delivery does not depend on how that type is parsed.
pub trait AgentView {
    /// Id that stays the same for every delivery of this notification.
    fn event_id(&self) -> String;
    fn host_name(&self) -> &str;
    fn uuid(&self) -> &str;
    fn agent_state(&self) -> &str;
    fn build_state(&self) -> &str;
    fn agent_config_state(&self) -> &str;
    // The three fields below are empty when GoCD sent none. They have default bodies, so an
    // implementation that does not carry them returns empty values.
    fn ip_address(&self) -> &str {
        ""
    }
    fn operating_system(&self) -> &str {
        ""
    }
    /// Free disk space as GoCD formats it, such as `12.3 GB`.
    fn free_space(&self) -> &str {
        ""
    }
    /// Serializes the typed event for the webhook body's `event` field.
    fn to_json(&self) -> Value;
}

impl AgentView for AgentEvent {
    /// `agent/<uuid>/<agent_state>/<build_state>/<transition_time>`, the time in milliseconds
    /// since the Unix epoch, or `unknown` when GoCD sent none.
    fn event_id(&self) -> String {
        let transition = match self.transition_time {
            Some(time) => time.timestamp_millis().to_string(),
            None => "unknown".to_string(),
        };
        format!(
            "agent/{}/{}/{}/{transition}",
            self.uuid, self.agent_state, self.build_state
        )
    }

    fn host_name(&self) -> &str {
        self.host_name.as_deref().unwrap_or("")
    }

    fn uuid(&self) -> &str {
        &self.uuid
    }

    fn agent_state(&self) -> &str {
        &self.agent_state
    }

    fn build_state(&self) -> &str {
        &self.build_state
    }

    fn agent_config_state(&self) -> &str {
        &self.agent_config_state
    }

    fn ip_address(&self) -> &str {
        self.ip_address.as_deref().unwrap_or("")
    }

    fn operating_system(&self) -> &str {
        self.operating_system.as_deref().unwrap_or("")
    }

    fn free_space(&self) -> &str {
        self.free_space.as_deref().unwrap_or("")
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Returns `sha256=<lowercase hex>` of the HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut signature = String::from("sha256=");
    for byte in digest {
        signature.push_str(&format!("{byte:02x}"));
    }
    signature
}

/// Returns the link to the stage page: `<site_url>/go/pipelines/<pipeline>/<counter>/<stage>/<counter>`.
///
/// GoCD's site URL has no `/go` path, but administrators often paste the address they see in the
/// browser, so a trailing `/go` is dropped rather than doubled.
pub fn stage_url(site_url: &str, event: &StageEvent) -> String {
    let base = site_url.trim_end_matches('/');
    let base = base.strip_suffix("/go").unwrap_or(base);
    format!(
        "{}/go/pipelines/{}/{}/{}/{}",
        base,
        encode_path_segment(&event.pipeline.name),
        event.pipeline.counter,
        encode_path_segment(&event.stage.name),
        event.stage.counter
    )
}

fn encode_path_segment(segment: &str) -> String {
    percent_encode(segment, |byte| {
        byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
    })
}

/// Returns the event id as the `X-Herald-Event-Id` header carries it: percent-encoded (RFC 3986)
/// wherever it has a byte outside printable ASCII or a `%`, because HTTP header values are not
/// reliably read as UTF-8. An id of printable ASCII without `%` is sent unchanged.
pub fn event_id_header_value(event_id: &str) -> String {
    percent_encode(event_id, |byte| {
        byte.is_ascii_graphic() && byte != b'%' || byte == b' '
    })
}

fn percent_encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if keep(byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn original_body(raw_body: &[u8]) -> Value {
    serde_json::from_slice(raw_body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw_body).into_owned()))
}

fn kind_names(kinds: &[EventKind]) -> Vec<&'static str> {
    kinds.iter().map(|kind| kind.as_str()).collect()
}

/// Builds the webhook body of a stage event.
pub fn stage_webhook_body(
    event: &StageEvent,
    kinds: &[EventKind],
    site_url: Option<&str>,
    raw_body: &[u8],
) -> String {
    let body = json!({
        "schema": WEBHOOK_SCHEMA,
        "event_id": event.event_id(),
        "type": "stage-status",
        "kinds": kind_names(kinds),
        "stage_url": site_url.map(|url| stage_url(url, event)),
        "event": event,
        "gocd": original_body(raw_body),
    });
    body.to_string()
}

/// Builds the webhook body of an agent event.
pub fn agent_webhook_body(event: &dyn AgentView, raw_body: &[u8]) -> String {
    let body = json!({
        "schema": WEBHOOK_SCHEMA,
        "event_id": event.event_id(),
        "type": "agent-status",
        "kinds": [EventKind::Agent.as_str()],
        "event": event.to_json(),
        "gocd": original_body(raw_body),
    });
    body.to_string()
}

/// Escapes the three characters that Slack mrkdwn treats as markup.
pub fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Maximum number of characters of a chat message's text. Slack documents that it truncates text over 40 000
/// characters. Other Slack-compatible servers may accept less, and an event that a destination
/// rejects ends up set aside, so a long text is cut here, with a note, and its start arrives.
// NOTE: 16 000 is below Slack's documented 40 000 but was not checked against other servers.
pub const MAX_CHAT_TEXT_CHARS: usize = 16_000;

/// Builds `{"text": ...}`, cutting a text longer than [`MAX_CHAT_TEXT_CHARS`].
pub(crate) fn chat_text_body(text: String) -> String {
    let length = text.chars().count();
    if length <= MAX_CHAT_TEXT_CHARS {
        return json!({ "text": text }).to_string();
    }
    let mut shortened: String = text.chars().take(MAX_CHAT_TEXT_CHARS).collect();
    shortened.push_str(&format!(
        "\n... (shortened by Herald from {length} characters)"
    ));
    json!({ "text": shortened }).to_string()
}

/// Builds the Slack-compatible incoming webhook body (`{"text": ...}`) of a stage event.
pub fn stage_chat_body(event: &StageEvent, kinds: &[EventKind], site_url: Option<&str>) -> String {
    let title = stage_title(event, site_url);
    let mut lines = vec![format!("Stage *{title}* {}", headline(kinds))];
    lines.push(format!("Triggered by: {}", describe_trigger(event)));
    let failed_jobs = failed_job_names(event);
    if !failed_jobs.is_empty() {
        lines.push(format!("Failed jobs: {}", failed_jobs.join(", ")));
    }

    chat_text_body(lines.join("\n"))
}

/// Returns `pipeline/counter/stage/counter`, escaped for mrkdwn, as a link to the stage page
/// when the site URL is known.
pub(crate) fn stage_title(event: &StageEvent, site_url: Option<&str>) -> String {
    let title = format!(
        "{}/{}/{}/{}",
        event.pipeline.name, event.pipeline.counter, event.stage.name, event.stage.counter
    );
    match site_url {
        Some(url) => format!("<{}|{}>", stage_url(url, event), escape_mrkdwn(&title)),
        None => escape_mrkdwn(&title),
    }
}

/// Returns the names of the failed jobs, each escaped for mrkdwn.
pub(crate) fn failed_job_names(event: &StageEvent) -> Vec<String> {
    event
        .jobs
        .iter()
        .filter(|job| job.result == StageResult::Failed)
        .map(|job| escape_mrkdwn(&job.name))
        .collect()
}

/// Builds the Slack-compatible incoming webhook body of an agent event.
pub fn agent_chat_body(event: &dyn AgentView) -> String {
    let text = format!(
        "Agent *{}* ({}): {}, build state {}, config state {}",
        escape_mrkdwn(event.host_name()),
        escape_mrkdwn(event.uuid()),
        escape_mrkdwn(event.agent_state()),
        escape_mrkdwn(event.build_state()),
        escape_mrkdwn(event.agent_config_state()),
    );
    chat_text_body(text)
}

/// Returns the phrase for what happened to the stage, such as `failed`.
pub(crate) fn headline(kinds: &[EventKind]) -> &'static str {
    if kinds.contains(&EventKind::Broken) {
        "is broken: it failed after passing"
    } else if kinds.contains(&EventKind::Fixed) {
        "is fixed: it passed after failing"
    } else if kinds.contains(&EventKind::Failed) {
        "failed"
    } else if kinds.contains(&EventKind::Passed) {
        "passed"
    } else if kinds.contains(&EventKind::Cancelled) {
        "was cancelled"
    } else if kinds.contains(&EventKind::Building) {
        "is building"
    } else {
        "changed state"
    }
}

/// Returns who or what triggered the run, escaped for mrkdwn.
pub(crate) fn describe_trigger(event: &StageEvent) -> String {
    match event.stage.approved_by.as_deref() {
        Some("changes") => {
            let changed: Vec<String> = event
                .build_cause
                .iter()
                .filter(|material| material.changed)
                .filter_map(|material| {
                    let revision = material.modifications.first()?.revision.as_ref();
                    let short: String = revision.chars().take(12).collect();
                    Some(format!("{} {}", material.material_type, short))
                })
                .collect();
            if changed.is_empty() {
                "changes".to_string()
            } else {
                format!("changes ({})", escape_mrkdwn(&changed.join(", ")))
            }
        }
        Some("timer") => "timer".to_string(),
        Some(user) if !user.is_empty() => escape_mrkdwn(user),
        _ => "unknown".to_string(),
    }
}
