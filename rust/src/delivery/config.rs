//! Delivery settings: the fields of the plugin settings page that delivery reads, their
//! validation, and [`Config`], which is built from their string values.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::placeholders::{AGENT_PLACEHOLDERS, STAGE_PLACEHOLDERS};
use super::rules::Rules;
use super::template::Template;

/// One field of the plugin settings page, with the validation of its value alone.
pub struct SettingsField {
    pub key: &'static str,
    pub display_name: &'static str,
    pub default_value: &'static str,
    pub required: bool,
    /// GoCD stores secure values encrypted and masks them in the settings page.
    pub secure: bool,
    pub help: &'static str,
    /// Returns one message per problem in the value; empty when the value is valid.
    pub validate: fn(&str) -> Vec<String>,
}

pub const QUEUE_DIR: &str = "delivery_queue_dir";
pub const DESTINATIONS: &str = "delivery_destinations";
pub const DESTINATION_SECRETS: &str = "delivery_destination_secrets";
pub const RULES: &str = "delivery_rules";
pub const SITE_URL: &str = "delivery_site_url";
pub const CA_BUNDLE: &str = "delivery_ca_bundle";
pub const PROXY_URL: &str = "delivery_proxy_url";
pub const REQUEST_TIMEOUT: &str = "delivery_request_timeout_seconds";
pub const MAX_EVENT_AGE: &str = "delivery_max_event_age_hours";
pub const QUEUE_MAX_EVENTS: &str = "delivery_queue_max_events";
pub const QUEUE_MAX_MIB: &str = "delivery_queue_max_mib";
pub const AGENT_STATUS: &str = "delivery_agent_status";
pub const CHAT_TEMPLATE: &str = "delivery_chat_template";
pub const AGENT_CHAT_TEMPLATE: &str = "delivery_agent_chat_template";

/// The delivery fields, in the order they appear on the settings page.
pub const SETTINGS_FIELDS: &[SettingsField] = &[
    SettingsField {
        key: DESTINATIONS,
        display_name: "Destinations",
        default_value: "",
        required: false,
        secure: false,
        help: "One destination per line: NAME KIND URL, where KIND is webhook or chat (a Slack-compatible incoming webhook). Names use letters, digits, '-', '_' and '.'. Example: ops-chat chat https://chat.example.com/hooks/T0K3N",
        validate: validate_destinations_field,
    },
    SettingsField {
        key: DESTINATION_SECRETS,
        display_name: "Destination secrets",
        default_value: "",
        required: false,
        secure: true,
        help: "One line per signed webhook: NAME=SECRET. Requests to that destination carry an HMAC-SHA256 signature of the body made with SECRET in the X-Herald-Signature-256 header. Example: audit-hook=change-me",
        validate: validate_secrets_field,
    },
    SettingsField {
        key: RULES,
        display_name: "Rules",
        default_value: "",
        required: false,
        secure: false,
        help: "One rule per line: [group=GLOB] [pipeline=GLOB] [stage=GLOB] [on=KINDS] -> DESTINATIONS. KINDS, separated by commas: building, passed, failed, cancelled, broken, fixed, all, agent. Globs use * and ? and ignore case. Lines starting with # are comments. Example: pipeline=deploy-* on=broken,fixed -> ops-chat",
        validate: validate_rules_field,
    },
    SettingsField {
        key: SITE_URL,
        display_name: "GoCD site URL for links",
        default_value: "",
        required: false,
        secure: false,
        help: "Base of the stage links in chat messages, e.g. https://gocd.example.com. Empty: the site URL the GoCD server reports.",
        validate: validate_site_url,
    },
    SettingsField {
        key: QUEUE_DIR,
        display_name: "Queue folder",
        default_value: "",
        required: false,
        secure: false,
        help: "Folder where accepted events wait for delivery. Empty: a folder named herald-queue in the GoCD server's working directory.",
        validate: validate_nothing,
    },
    SettingsField {
        key: MAX_EVENT_AGE,
        display_name: "Maximum event age (hours)",
        default_value: "24",
        required: false,
        secure: false,
        help: "An event not delivered after this many hours is given up and logged.",
        validate: validate_positive_integer,
    },
    SettingsField {
        key: QUEUE_MAX_EVENTS,
        display_name: "Queue limit (deliveries)",
        default_value: "100000",
        required: false,
        secure: false,
        help: "Maximum number of queued deliveries (one per event and destination). When reached, new events are rejected with an error; queued ones are kept.",
        validate: validate_positive_integer,
    },
    SettingsField {
        key: QUEUE_MAX_MIB,
        display_name: "Queue limit (MiB)",
        default_value: "1024",
        required: false,
        secure: false,
        help: "Maximum size of the queued deliveries on disk, in MiB. When reached, new events are rejected with an error; queued ones are kept.",
        validate: validate_positive_integer,
    },
    SettingsField {
        key: REQUEST_TIMEOUT,
        display_name: "Request timeout (seconds)",
        default_value: "10",
        required: false,
        secure: false,
        help: "Time allowed for one delivery attempt, from connecting to reading the response.",
        validate: validate_positive_integer,
    },
    SettingsField {
        key: CA_BUNDLE,
        display_name: "Extra CA certificates (PEM)",
        default_value: "",
        required: false,
        secure: false,
        help: "PEM certificates of the CAs to trust for HTTPS destinations, e.g. a private CA. When set, only these CAs are trusted; empty: the public web roots bundled with the plugin (Mozilla's list).",
        validate: validate_ca_bundle,
    },
    SettingsField {
        key: PROXY_URL,
        display_name: "HTTP(S) proxy",
        default_value: "",
        required: false,
        secure: false,
        help: "Proxy URL such as http://proxy.example:3128. Empty: the standard proxy environment variables of the GoCD server (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY).",
        validate: validate_proxy_url,
    },
    SettingsField {
        key: AGENT_STATUS,
        display_name: "Deliver agent-status events",
        default_value: "false",
        required: false,
        secure: false,
        help: "true to ask GoCD for agent-status events (API 3.0 and later) so rules with on=agent can route them. GoCD asks for the list of notifications only when it loads the plugin, so a change takes effect after the next GoCD server restart.",
        validate: validate_boolean,
    },
    SettingsField {
        key: CHAT_TEMPLATE,
        display_name: "Chat message template (stages)",
        default_value: "",
        required: false,
        secure: false,
        help: "Text of the chat message for stage-status events. Empty: the built-in message. Each {name} is replaced with a value of the event: {pipeline}, {counter}, {label}, {group}, {stage}, {stage_counter}, {state} and {result} as GoCD names them, {headline} (such as failed or is broken: it failed after passing), {trigger} (who or what triggered the run), {failed_jobs}, {stage_url} (empty when no site URL is known), {title} (pipeline/counter/stage/counter, a link to the stage page when the site URL is known) and {kinds} (such as failed, broken). Write {{ and }} for literal braces. Line breaks are kept. Values from GoCD are escaped for Slack mrkdwn; the template text is sent as written, so it may use mrkdwn such as *bold*. At most 4000 characters. A message that renders blank is replaced with the built-in one. Example: Stage *{title}* {headline}, triggered by {trigger}",
        validate: validate_chat_template,
    },
    SettingsField {
        key: AGENT_CHAT_TEMPLATE,
        display_name: "Chat message template (agents)",
        default_value: "",
        required: false,
        secure: false,
        help: "Text of the chat message for agent-status events, with the same syntax as the stage template. Empty: the built-in message. Placeholders, named as GoCD's agent-status fields: {host_name}, {uuid}, {agent_state}, {build_state}, {agent_config_state}, {ip_address}, {operating_system}, {free_space}; a field GoCD did not send is empty. At most 4000 characters. Example: Agent *{host_name}* is {agent_state}",
        validate: validate_agent_chat_template,
    },
];

/// Kind of destination, which decides the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    /// The documented `herald.webhook/1` JSON body.
    Webhook,
    /// A Slack-compatible incoming webhook body (`{"text": ...}`).
    Chat,
}

/// One destination from the settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    pub name: String,
    pub kind: DestinationKind,
    /// Full URL. Chat webhook URLs are secrets themselves, so they never appear in messages.
    pub url: String,
    pub secret: Option<String>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"<hidden>")
            .field("secret", &self.secret.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Everything the delivery engine needs, built from the settings' string values.
#[derive(Clone, Debug)]
pub struct Config {
    pub queue_dir: PathBuf,
    pub destinations: Vec<Destination>,
    pub rules: Rules,
    /// Overrides the site URL that the GoCD server reports.
    pub site_url: Option<String>,
    /// PEM text of extra CA certificates.
    pub ca_bundle: Option<String>,
    /// `None`: the proxy environment variables apply.
    pub proxy_url: Option<String>,
    pub request_timeout: Duration,
    pub max_event_age: Duration,
    pub queue_max_events: u64,
    pub queue_max_bytes: u64,
    pub agent_status: bool,
    /// Template of chat messages for stage events, or `None` for the built-in message.
    pub chat_template: Option<Template>,
    /// Template of chat messages for agent events, or `None` for the built-in message.
    pub agent_chat_template: Option<Template>,
    /// Shortest and longest wait between two attempts to one destination.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

/// A message about one settings field, as `go.plugin-settings.validate-configuration` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub key: &'static str,
    pub message: String,
}

impl Config {
    /// Builds the config from the settings values. `default_queue_dir` is used when the queue
    /// folder field is empty (the integration passes `<server working dir>/herald-queue`).
    /// Missing keys take their default value.
    pub fn from_settings(
        values: &HashMap<String, String>,
        default_queue_dir: PathBuf,
    ) -> Result<Config, Vec<FieldError>> {
        let value = |key: &str| -> String {
            match values.get(key) {
                Some(v) => v.trim().to_string(),
                None => default_of(key).to_string(),
            }
        };

        let errors = validate_settings(values);
        let destinations = parse_destinations(&value(DESTINATIONS)).unwrap_or_default();
        let mut secrets = parse_secrets(&value(DESTINATION_SECRETS)).unwrap_or_default();
        let destinations: Vec<Destination> = destinations
            .into_iter()
            .map(|(name, kind, url)| Destination {
                secret: secrets.remove(&name),
                name,
                kind,
                url,
            })
            .collect();
        let names: Vec<String> = destinations.iter().map(|d| d.name.clone()).collect();
        let rules = Rules::parse(&value(RULES), &names).unwrap_or_default();

        if !errors.is_empty() {
            return Err(errors);
        }

        let number = |key: &str| value(key).parse::<u64>().unwrap_or(1);
        let queue_dir = match value(QUEUE_DIR).as_str() {
            "" => default_queue_dir,
            dir => PathBuf::from(dir),
        };
        let optional = |key: &str| Some(value(key)).filter(|v| !v.is_empty());

        Ok(Config {
            queue_dir,
            destinations,
            rules,
            site_url: optional(SITE_URL),
            ca_bundle: optional(CA_BUNDLE),
            proxy_url: optional(PROXY_URL),
            request_timeout: Duration::from_secs(number(REQUEST_TIMEOUT)),
            max_event_age: Duration::from_secs(number(MAX_EVENT_AGE).saturating_mul(3600)),
            queue_max_events: number(QUEUE_MAX_EVENTS),
            queue_max_bytes: number(QUEUE_MAX_MIB).saturating_mul(1024 * 1024),
            agent_status: value(AGENT_STATUS).eq_ignore_ascii_case("true"),
            chat_template: parse_template(&value(CHAT_TEMPLATE), STAGE_PLACEHOLDERS),
            agent_chat_template: parse_template(&value(AGENT_CHAT_TEMPLATE), AGENT_PLACEHOLDERS),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
        })
    }
}

/// Validates every delivery field, then the references between them (rules and secrets naming
/// destinations). Returns one error per problem; empty when the settings are valid.
pub fn validate_settings(values: &HashMap<String, String>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in SETTINGS_FIELDS {
        let value = values
            .get(field.key)
            .map(|v| v.trim())
            .unwrap_or(field.default_value);
        if field.required && value.is_empty() {
            errors.push(FieldError {
                key: field.key,
                message: format!("{} is required", field.display_name),
            });
        }
        for message in (field.validate)(value) {
            errors.push(FieldError {
                key: field.key,
                message,
            });
        }
    }

    errors.extend(validate_references(values));
    errors
}

/// Checks the references between delivery fields: rules and secrets must name destinations
/// of the destinations field. The check runs even when some lines have syntax errors, against
/// every destination line whose name is valid, so each bad line gets its message on the first
/// save. Messages that the field validators already give are not repeated.
pub fn validate_references(values: &HashMap<String, String>) -> Vec<FieldError> {
    let field = |key: &str| values.get(key).map(String::as_str).unwrap_or("");
    let names = destination_names(field(DESTINATIONS));

    let mut errors = Vec::new();
    let rules = field(RULES);
    if let Err(messages) = Rules::parse(rules, &names) {
        let syntax_messages = validate_rules_field(rules);
        errors.extend(
            messages
                .into_iter()
                .filter(|message| !syntax_messages.contains(message))
                .map(|message| FieldError {
                    key: RULES,
                    message,
                }),
        );
    }

    let mut unknown: Vec<String> = secret_names(field(DESTINATION_SECRETS))
        .into_iter()
        .filter(|name| !names.contains(name))
        .collect();
    unknown.sort();
    unknown.dedup();
    errors.extend(unknown.into_iter().map(|name| FieldError {
        key: DESTINATION_SECRETS,
        message: format!(
            "secret for unknown destination {name:?}; the names must match the destinations field"
        ),
    }));
    errors
}

/// Returns the name of every destination line that starts with a valid name, including lines
/// with an error later on, so that a rule or secret naming such a line gets no second message.
fn destination_names(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| is_valid_name(name))
        .map(str::to_string)
        .collect()
}

/// Returns the names of the well-formed `NAME=SECRET` lines. The secrets are left out.
fn secret_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .filter(|(name, secret)| is_valid_name(name.trim()) && !secret.trim().is_empty())
        .map(|(name, _)| name.trim().to_string())
        .collect()
}

fn default_of(key: &str) -> &'static str {
    SETTINGS_FIELDS
        .iter()
        .find(|field| field.key == key)
        .map(|field| field.default_value)
        .unwrap_or("")
}

fn validate_nothing(_: &str) -> Vec<String> {
    Vec::new()
}

fn validate_positive_integer(value: &str) -> Vec<String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Vec::new(),
        _ => vec![format!(
            "expected a whole number greater than 0, found {value:?}"
        )],
    }
}

fn validate_boolean(value: &str) -> Vec<String> {
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") || value.is_empty()
    {
        Vec::new()
    } else {
        vec![format!("expected true or false, found {value:?}")]
    }
}

fn validate_site_url(value: &str) -> Vec<String> {
    if value.is_empty() || value.starts_with("http://") || value.starts_with("https://") {
        Vec::new()
    } else {
        vec![format!(
            "expected a URL starting with http:// or https://, found {value:?}"
        )]
    }
}

fn validate_proxy_url(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    match ureq::Proxy::new(value) {
        Ok(_) => Vec::new(),
        Err(_) => vec![format!(
            "invalid proxy URL; expected e.g. http://proxy.example:3128 or http://user:password@proxy.example:3128"
        )],
    }
}

fn validate_ca_bundle(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    if let Some(message) = ca_bundle_path_message(value) {
        return vec![message];
    }
    match super::sender::parse_ca_bundle(value) {
        Ok(_) => Vec::new(),
        Err(message) => vec![message],
    }
}

/// Returns a message when the CA bundle value is a single absolute path instead of PEM text,
/// because the field takes the certificates themselves and reads no file.
fn ca_bundle_path_message(value: &str) -> Option<String> {
    let path = std::path::Path::new(value);
    if value.contains("-----BEGIN") || value.lines().count() != 1 || !path.is_absolute() {
        return None;
    }
    let found = if path.is_dir() {
        "is a folder, not a file"
    } else if path.exists() {
        "is a file path"
    } else {
        "is a file path, and that file was not found"
    };
    Some(format!(
        "{value} {found}: this field takes the PEM text itself, so paste the certificates, starting with -----BEGIN CERTIFICATE-----"
    ))
}

/// Returns the parsed template, or `None` for an empty value. Call it only after validation:
/// an invalid template also gives `None`.
fn parse_template(value: &str, known: &[&'static str]) -> Option<Template> {
    if value.is_empty() {
        return None;
    }
    Template::parse(value, known).ok()
}

// NOTE: values arrive trimmed, so when a template starts with blank lines or spaces, the line
// and column in these messages count from its first non-blank character.
fn validate_template(value: &str, known: &[&'static str]) -> Vec<String> {
    match Template::parse(value, known) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn validate_chat_template(value: &str) -> Vec<String> {
    validate_template(value, STAGE_PLACEHOLDERS)
}

fn validate_agent_chat_template(value: &str) -> Vec<String> {
    validate_template(value, AGENT_PLACEHOLDERS)
}

fn validate_rules_field(value: &str) -> Vec<String> {
    // Destination names are checked in `validate_references`, which reads both fields. Here every
    // name is accepted, so only the syntax is checked.
    let names = rule_destination_names(value);
    Rules::parse(value, &names).err().unwrap_or_default()
}

fn rule_destination_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|line| line.split_once("->"))
        .flat_map(|(_, targets)| targets.split(',').map(|name| name.trim().to_string()))
        .filter(|name| !name.is_empty())
        .collect()
}

fn validate_destinations_field(value: &str) -> Vec<String> {
    parse_destinations(value).err().unwrap_or_default()
}

fn validate_secrets_field(value: &str) -> Vec<String> {
    // Messages name the line only: the value is a secret.
    parse_secrets(value).err().unwrap_or_default()
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && name != "."
        && name != ".."
}

/// Parses `NAME KIND URL` lines into destinations, with one message per bad line.
pub fn parse_destinations(
    text: &str,
) -> Result<Vec<(String, DestinationKind, String)>, Vec<String>> {
    let mut list: Vec<(String, DestinationKind, String)> = Vec::new();
    let mut errors = Vec::new();

    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() != 3 {
            errors.push(format!(
                "line {line_number}: expected NAME KIND URL (three words), e.g. \"ops-chat chat https://chat.example/hooks/...\", found {} words",
                parts.len()
            ));
            continue;
        }
        let (name, kind, url) = (parts[0], parts[1], parts[2]);
        if !is_valid_name(name) {
            errors.push(format!(
                "line {line_number}: invalid name {name:?}; use letters, digits, '-', '_' and '.'"
            ));
            continue;
        }
        let kind = match kind.to_ascii_lowercase().as_str() {
            "webhook" => DestinationKind::Webhook,
            "chat" => DestinationKind::Chat,
            _ => {
                errors.push(format!(
                    "line {line_number}: unknown kind {kind:?}; expected webhook or chat"
                ));
                continue;
            }
        };
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.parse::<ureq::http::Uri>().is_err()
        {
            // The URL itself is not repeated because chat webhook URLs carry their token.
            errors.push(format!(
                "line {line_number}: invalid URL for {name:?}; expected an http:// or https:// URL"
            ));
            continue;
        }
        if let Some(message) = check_destination_url(url) {
            errors.push(format!("line {line_number}: {message} for {name:?}"));
            continue;
        }
        if list
            .iter()
            .any(|(existing, _, _)| existing.eq_ignore_ascii_case(name))
        {
            errors.push(format!(
                "line {line_number}: destination {name:?} is defined twice (names are compared without regard to case)"
            ));
            continue;
        }
        list.push((name.to_string(), kind, url.to_string()));
    }

    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}

/// Checks the parts of a destination URL that the URL parser accepts but delivery cannot use:
/// a port above 65535 and user info, which the HTTP client does not send as credentials. The
/// message never contains the URL, because chat webhook URLs carry their token.
fn check_destination_url(url: &str) -> Option<String> {
    let uri = url.parse::<ureq::http::Uri>().ok()?;
    let authority = uri.authority()?.as_str();
    if authority.contains('@') {
        return Some(
            "credentials in the URL (***@ before the host) are not supported and would not be sent; remove them and use a destination secret or a token in the URL path"
                .to_string(),
        );
    }
    let port = authority.rsplit_once(':').map(|(_, port)| port)?;
    if port.is_empty() || port.ends_with(']') {
        return None;
    }
    match port.parse::<u16>() {
        Ok(_) => None,
        Err(_) => Some(format!("port {port} is out of range (1 to 65535)")),
    }
}

/// Parses `NAME=SECRET` lines. Messages never contain the secret.
pub fn parse_secrets(text: &str) -> Result<HashMap<String, String>, Vec<String>> {
    let mut secrets = HashMap::new();
    let mut errors = Vec::new();

    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((name, secret)) if is_valid_name(name.trim()) && !secret.trim().is_empty() => {
                secrets.insert(name.trim().to_string(), secret.trim().to_string());
            }
            _ => errors.push(format!(
                "line {line_number}: expected NAME=SECRET with a destination name and a non-empty secret"
            )),
        }
    }

    if errors.is_empty() {
        Ok(secrets)
    } else {
        Err(errors)
    }
}
