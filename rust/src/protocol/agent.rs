//! Parsing of `agent-status` bodies (API 3.0 and later) into [`AgentEvent`].

use super::body::decode_object;
use super::fields::{Fields, Presence};
use super::time::DateFormat;
use super::{ApiVersion, Problem};
use crate::event::AgentEvent;

/// API versions in which GoCD sends `agent-status`.
pub const AGENT_STATUS_VERSIONS: [ApiVersion; 2] = [ApiVersion::V3, ApiVersion::V4];

/// Parses an `agent-status` body. Unknown keys are ignored, but a key repeated in any object of
/// the body is a problem. On failure, returns every problem found.
pub fn parse_agent_status(
    body: Option<&[u8]>,
    api_version: &str,
) -> Result<AgentEvent, Vec<Problem>> {
    let decoded = decode_object(body).map_err(|problem| vec![problem])?;
    // Repeated keys come first, and the fields are read with the last value of each.
    let mut problems = decoded.duplicate_keys;
    let version = match ApiVersion::parse_or_problem(api_version, &AGENT_STATUS_VERSIONS) {
        Ok(version) => version,
        Err(problem) => {
            problems.push(problem);
            return Err(problems);
        }
    };
    let agent = Fields::new(&decoded.object, "");

    let uuid = agent.string("uuid", &mut problems);
    let host_name = agent.nullable_string("host_name", Presence::Required, &mut problems);
    let is_elastic = agent.boolean("is_elastic", &mut problems);
    let ip_address = agent.nullable_string("ip_address", Presence::Required, &mut problems);
    let operating_system =
        agent.nullable_string("operating_system", Presence::Required, &mut problems);
    let free_space = agent.nullable_string("free_space", Presence::Required, &mut problems);
    let agent_config_state = agent.string("agent_config_state", &mut problems);
    let agent_state = agent.string("agent_state", &mut problems);
    let build_state = agent.string("build_state", &mut problems);
    let transition_time = agent.optional_date(
        "transition_time",
        DateFormat::Offset,
        Presence::Required,
        &mut problems,
    );

    let event = (|| {
        Some(AgentEvent {
            uuid: uuid?,
            host_name: host_name?,
            is_elastic: is_elastic?,
            ip_address: ip_address?,
            operating_system: operating_system?,
            free_space: free_space?,
            agent_config_state: agent_config_state?,
            agent_state: agent_state?,
            build_state: build_state?,
            transition_time: transition_time?,
            api_version: version.as_str().to_string(),
        })
    })();
    match event {
        Some(event) if problems.is_empty() => Ok(event),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent_body() -> serde_json::Value {
        json!({
            "uuid": "5b1f2a64", "host_name": "agent-07", "is_elastic": true, "ip_address": "10.0.0.7",
            "operating_system": "Alpine Linux 3.21", "free_space": "12.3 GB", "agent_config_state": "Enabled",
            "agent_state": "Idle", "build_state": "Idle", "transition_time": "2026-03-23T17:27:58.000+0100",
            "added-later": {"ignored": true}
        })
    }

    fn problems_for(body: serde_json::Value, version: &str) -> Vec<String> {
        problems_for_text(&body.to_string(), version)
    }

    fn problems_for_text(text: &str, version: &str) -> Vec<String> {
        parse_agent_status(Some(text.as_bytes()), version)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn agent_body_becomes_event() {
        let bytes = agent_body().to_string().into_bytes();
        let event = parse_agent_status(Some(&bytes), "3.0").unwrap();
        assert_eq!(event.uuid, "5b1f2a64");
        assert!(event.is_elastic);
        assert_eq!(event.free_space.as_deref(), Some("12.3 GB"));
        assert_eq!(event.agent_state, "Idle");
        assert_eq!(
            event.transition_time.unwrap().to_rfc3339(),
            "2026-03-23T16:27:58+00:00"
        );
        assert_eq!(event.api_version, "3.0");
    }

    #[test]
    fn agent_nulls_and_empty_date_are_none() {
        let mut body = agent_body();
        body["ip_address"] = json!(null);
        body["operating_system"] = json!(null);
        body["transition_time"] = json!("");
        let bytes = body.to_string().into_bytes();
        let event = parse_agent_status(Some(&bytes), "4.0").unwrap();
        assert_eq!(event.ip_address, None);
        assert_eq!(event.operating_system, None);
        assert_eq!(event.transition_time, None);
    }

    #[test]
    fn agent_missing_uuid_is_reported() {
        let mut body = agent_body();
        body.as_object_mut().unwrap().remove("uuid");
        assert_eq!(
            problems_for(body, "4.0"),
            vec!["uuid: missing, expected a string"]
        );
    }

    #[test]
    fn agent_status_needs_api_3() {
        assert_eq!(
            problems_for(agent_body(), "1.0"),
            vec!["api-version: expected one of 3.0, 4.0, found \"1.0\""]
        );
    }

    #[test]
    fn agent_duplicate_key_is_reported() {
        let text = agent_body().to_string().replacen("{", "{\"uuid\": 7, ", 1);
        let problems = problems_for_text(&text, "4.0");
        assert_eq!(problems, vec!["uuid: duplicate key"]);

        let inside_unknown = agent_body().to_string().replacen(
            "{\"ignored\":true}",
            "{\"ignored\":true,\"ignored\":false}",
            1,
        );
        let problems = problems_for_text(&inside_unknown, "4.0");
        assert_eq!(problems, vec!["added-later.ignored: duplicate key"]);
    }

    #[test]
    fn agent_duplicate_key_and_version_are_both_reported() {
        let text = agent_body().to_string().replacen("{", "{\"uuid\": 7, ", 1);
        let problems = problems_for_text(&text, "2.0");
        assert_eq!(
            problems,
            vec![
                "uuid: duplicate key",
                "api-version: expected one of 3.0, 4.0, found \"2.0\""
            ]
        );
    }

    #[test]
    fn agent_impossible_date_is_named() {
        let mut body = agent_body();
        body["transition_time"] = json!("2026-02-29T17:27:58.000+0100");
        assert_eq!(
            problems_for(body, "4.0"),
            vec![
                "transition_time: 2026-02-29 is not a date in the calendar, \
                 found \"2026-02-29T17:27:58.000+0100\""
            ]
        );
    }

    #[test]
    fn agent_byte_order_mark_is_named() {
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(agent_body().to_string().into_bytes());
        let problems: Vec<String> = parse_agent_status(Some(&bytes), "4.0")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            vec![
                "body: starts with a byte-order mark (U+FEFF), which GoCD request bodies do not \
                 carry, expected JSON without it"
            ]
        );
    }
}
