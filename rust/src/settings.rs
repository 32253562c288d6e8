//! Plugin settings: one table of fields from which the settings page, the validation and the
//! typed [`Settings`] are all derived.
//!
//! To add a setting, add a row to [`FIELDS`] with a validator, and read its value in
//! [`Settings::from_values`] (or through [`Settings::value`]).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::delivery::config::{self as delivery_config, Config as DeliveryConfig, SettingsField};
use crate::delivery::SETTINGS_FIELDS as DELIVERY_FIELDS;
use crate::protocol::answer;
use crate::protocol::body::{as_object, decode_value};
use crate::protocol::{Problem, AGENT_STATUS, STAGE_STATUS};

pub const EVENT_LOG_PATH: &str = "event_log_path";
pub const LEGACY_TIME_ZONE: &str = "legacy_time_zone";

/// Name of the queue folder created in the GoCD server's working directory when the queue
/// folder setting is empty.
pub const DEFAULT_QUEUE_FOLDER_NAME: &str = "herald-queue";

/// Input element of a field on the settings page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// One line of text.
    Text,
    /// Several lines of text, for fields with one entry per line.
    Textarea,
}

/// One field of the settings page.
pub struct Field {
    pub key: &'static str,
    pub display_name: &'static str,
    pub default_value: &'static str,
    pub required: bool,
    /// GoCD stores secure values encrypted and masks them on the page.
    pub secure: bool,
    /// Position on the page; GoCD expects a string of digits.
    pub display_order: &'static str,
    /// Help text shown below the input.
    pub help: &'static str,
    pub input: Input,
    /// Checks a non-empty value, including the state of the machine it names (files, folders).
    /// Returns one message per problem; empty when the value is valid.
    pub validate: fn(&str) -> Vec<String>,
}

/// Builds the row of a delivery field. The delivery module defines its key, name, default,
/// help and validator; the page adds the position and the input element.
const fn delivery_row(field: &SettingsField, display_order: &'static str, input: Input) -> Field {
    Field {
        key: field.key,
        display_name: field.display_name,
        default_value: field.default_value,
        required: field.required,
        secure: field.secure,
        display_order,
        help: field.help,
        input,
        validate: field.validate,
    }
}

/// Every setting of the plugin, in page order.
pub const FIELDS: &[Field] = &[
    Field {
        key: EVENT_LOG_PATH,
        display_name: "Event log file",
        default_value: "",
        required: false,
        secure: false,
        display_order: "0",
        help: "Absolute path of a file to which every notification is appended as one JSON line, \
               for log shippers to tail. The folder must exist and be writable by the GoCD server. \
               Leave empty to write no event log.",
        input: Input::Text,
        validate: validate_event_log_path,
    },
    Field {
        key: LEGACY_TIME_ZONE,
        display_name: "Time zone of GoCD servers before 26.1",
        default_value: "UTC",
        required: false,
        secure: false,
        display_order: "1",
        help: "IANA time zone name, such as UTC or Europe/Berlin. GoCD servers before 26.1 send \
               notification API 1.0 and 2.0 times in the server's local time zone, followed by a \
               literal Z. Set the zone the server runs in; the default is UTC.",
        input: Input::Text,
        validate: validate_time_zone,
    },
    // The rows below follow the order of the delivery module's SETTINGS_FIELDS, which a test
    // checks, so an index names the same field as the key in the comment.
    delivery_row(&DELIVERY_FIELDS[0], "2", Input::Textarea), // delivery_destinations
    delivery_row(&DELIVERY_FIELDS[1], "3", Input::Textarea), // delivery_destination_secrets
    delivery_row(&DELIVERY_FIELDS[2], "4", Input::Textarea), // delivery_rules
    delivery_row(&DELIVERY_FIELDS[3], "5", Input::Text),     // delivery_site_url
    // The queue folder is checked here against the file system, which the delivery module leaves
    // to the plugin.
    Field {
        validate: validate_queue_folder,
        ..delivery_row(&DELIVERY_FIELDS[4], "6", Input::Text) // delivery_queue_dir
    },
    delivery_row(&DELIVERY_FIELDS[5], "7", Input::Text), // delivery_max_event_age_hours
    delivery_row(&DELIVERY_FIELDS[6], "8", Input::Text), // delivery_queue_max_events
    delivery_row(&DELIVERY_FIELDS[7], "9", Input::Text), // delivery_queue_max_mib
    delivery_row(&DELIVERY_FIELDS[8], "10", Input::Text), // delivery_request_timeout_seconds
    delivery_row(&DELIVERY_FIELDS[9], "11", Input::Textarea), // delivery_ca_bundle
    delivery_row(&DELIVERY_FIELDS[10], "12", Input::Text), // delivery_proxy_url
    delivery_row(&DELIVERY_FIELDS[11], "13", Input::Text), // delivery_agent_status
    delivery_row(&DELIVERY_FIELDS[12], "14", Input::Textarea), // delivery_chat_template
    delivery_row(&DELIVERY_FIELDS[13], "15", Input::Textarea), // delivery_agent_chat_template
];

/// One validation message for a settings field, as GoCD's settings page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub key: String,
    pub message: String,
}

/// The typed plugin settings in force. Its `Debug` form leaves out the values, because some of
/// them are secrets.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// File that accepted notifications are appended to, if any.
    pub event_log_path: Option<PathBuf>,
    /// Zone in which API 1.0 and 2.0 dates are local times.
    pub legacy_time_zone: Tz,
    /// Whether to ask GoCD for agent-status notifications (API 3.0 and later).
    pub agent_status: bool,
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("event_log_path", &self.event_log_path)
            .field("legacy_time_zone", &self.legacy_time_zone)
            .field("agent_status", &self.agent_status)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::from_values(&BTreeMap::new()).expect("the default settings are valid")
    }
}

impl Settings {
    /// Builds settings from stored values; absent or empty values take the field's default.
    ///
    /// Only the form of each value is checked here (an absolute path, a known zone). The state of
    /// the machine, such as whether a folder exists, is checked by [`validate`] when an
    /// administrator saves, and again whenever a file is written.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<Settings, Vec<FieldProblem>> {
        let mut effective = BTreeMap::new();
        for field in FIELDS {
            let value = values
                .get(field.key)
                .map(|value| value.trim())
                .unwrap_or("");
            let value = if value.is_empty() {
                field.default_value
            } else {
                value
            };
            effective.insert(field.key.to_string(), value.to_string());
        }
        for (key, value) in values {
            effective
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }

        let mut problems = Vec::new();
        let event_log_path = match effective[EVENT_LOG_PATH].as_str() {
            "" => None,
            path if Path::new(path).is_absolute() => Some(PathBuf::from(path)),
            path => {
                problems.push(field_problem(EVENT_LOG_PATH, not_absolute_message(path)));
                None
            }
        };
        let legacy_time_zone = Tz::from_str(&effective[LEGACY_TIME_ZONE]).unwrap_or_else(|_| {
            problems.push(field_problem(
                LEGACY_TIME_ZONE,
                unknown_zone_message(&effective[LEGACY_TIME_ZONE]),
            ));
            Tz::UTC
        });

        let queue_folder = effective[delivery_config::QUEUE_DIR].as_str();
        if !queue_folder.is_empty() && !Path::new(queue_folder).is_absolute() {
            problems.push(field_problem(
                delivery_config::QUEUE_DIR,
                not_absolute_folder_message(queue_folder),
            ));
        }
        let agent_status = match DeliveryConfig::from_settings(
            &delivery_values(&effective),
            default_queue_folder(),
        ) {
            Ok(config) => config.agent_status,
            Err(errors) => {
                problems.extend(
                    errors
                        .into_iter()
                        .map(|error| field_problem(error.key, error.message)),
                );
                false
            }
        };

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            event_log_path,
            legacy_time_zone,
            agent_status,
            values: effective,
        })
    }

    /// Builds the delivery engine's configuration. An empty queue folder setting gives
    /// [`DEFAULT_QUEUE_FOLDER_NAME`] in the current working directory, which is the GoCD
    /// server's.
    pub fn delivery_config(&self) -> DeliveryConfig {
        DeliveryConfig::from_settings(&delivery_values(&self.values), default_queue_folder())
            .expect("from_values accepted the delivery settings")
    }

    /// Returns the delivery values in force, after defaults. Two settings with equal delivery
    /// values need no restart of the delivery engine.
    pub fn delivery_values(&self) -> BTreeMap<&str, &str> {
        DELIVERY_FIELDS
            .iter()
            .map(|field| (field.key, self.value(field.key).unwrap_or("")))
            .collect()
    }

    /// Returns the value in force for `key`, after defaults, or `None` for an unknown key.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Returns the notifications to ask GoCD for with notification API `api_version`.
    /// agent-status is asked for when the setting opts in and the API is 3.0 or later, the first
    /// version that has it.
    pub fn interested_notifications(&self, api_version: &str) -> Vec<&'static str> {
        if self.agent_status && has_agent_status(api_version) {
            vec![STAGE_STATUS, AGENT_STATUS]
        } else {
            vec![STAGE_STATUS]
        }
    }

    /// Describes the settings for a log line.
    pub fn summary(&self) -> String {
        let event_log = match &self.event_log_path {
            Some(path) => path.display().to_string(),
            None => "off".to_string(),
        };
        let destinations = delivery_config::parse_destinations(
            self.value(delivery_config::DESTINATIONS).unwrap_or(""),
        )
        .map(|list| list.len())
        .unwrap_or(0);
        format!(
            "event log {event_log}, time zone of API 1.0/2.0 dates {}, {destinations} delivery destination(s), agent-status {}",
            self.legacy_time_zone,
            if self.agent_status { "on" } else { "off" }
        )
    }
}

/// Returns true for notification API versions that have agent-status (3.0 and later).
fn has_agent_status(api_version: &str) -> bool {
    api_version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 3)
}

/// Returns `<current working directory>/herald-queue`, or a relative `herald-queue` when the
/// working directory cannot be read.
pub fn default_queue_folder() -> PathBuf {
    std::env::current_dir()
        .unwrap_or_default()
        .join(DEFAULT_QUEUE_FOLDER_NAME)
}

fn delivery_values(values: &BTreeMap<String, String>) -> HashMap<String, String> {
    DELIVERY_FIELDS
        .iter()
        .filter_map(|field| {
            values
                .get(field.key)
                .map(|value| (field.key.to_string(), value.clone()))
        })
        .collect()
}

/// Validates the values an administrator is saving: each field on its own, then the references
/// between delivery fields (rules and secrets naming destinations). Returns one problem per
/// message.
pub fn validate(values: &BTreeMap<String, String>) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    for field in FIELDS {
        let value = values
            .get(field.key)
            .map(|value| value.trim())
            .unwrap_or("");
        if value.is_empty() {
            if field.required {
                problems.push(field_problem(
                    field.key,
                    format!("{} is required", field.display_name),
                ));
            }
            continue;
        }
        // A pasted template or rule list can have thousands of problems, so the settings page
        // shows the first few and how many more there are.
        for message in answer::limit_messages((field.validate)(value)) {
            problems.push(field_problem(field.key, message));
        }
    }

    let references = delivery_config::validate_references(&delivery_values(values));
    problems.extend(
        references
            .into_iter()
            .map(|error| field_problem(error.key, error.message)),
    );
    problems
}

/// Returns the response body for `go.plugin-settings.get-configuration`.
pub fn configuration() -> Value {
    let mut fields = Map::new();
    for field in FIELDS {
        fields.insert(
            field.key.to_string(),
            json!({
                "display-name": field.display_name,
                "default-value": field.default_value,
                "required": field.required,
                "secure": field.secure,
                "display-order": field.display_order,
            }),
        );
    }
    Value::Object(fields)
}

/// Returns the response body for `go.plugin-settings.get-view`: an AngularJS template in the style of
/// GoCD's settings page, with each input bound to its key and the server's message per field.
///
/// Help texts are marked `ng-non-bindable`, because AngularJS would otherwise evaluate the `{{ }}`
/// that the chat template help shows as an expression.
pub fn view() -> Value {
    let mut template = String::from("<div class=\"form_item_block\">\n");
    for field in FIELDS {
        let key = field.key;
        let marker = if field.required {
            "<span class=\"asterix\">*</span>"
        } else {
            ""
        };
        let input = match field.input {
            Input::Text => format!(
                "<input type=\"{}\" ng-model=\"{key}\" ng-required=\"{}\" placeholder=\"{}\"/>",
                if field.secure { "password" } else { "text" },
                field.required,
                escape_html(field.default_value)
            ),
            Input::Textarea => format!(
                "<textarea ng-model=\"{key}\" ng-required=\"{}\" rows=\"4\" placeholder=\"{}\"></textarea>",
                field.required,
                escape_html(field.default_value)
            ),
        };
        template.push_str(&format!(
            "  <div class=\"form_item\">\n\
             \x20   <label>{name}:{marker}</label>\n\
             \x20   {input}\n\
             \x20   <span class=\"form_error\" ng-show=\"GOINPUTNAME[{key}].$error.server\">{{{{GOINPUTNAME[{key}].$error.server}}}}</span>\n\
             \x20   <span class=\"form_help\" ng-non-bindable>{help}</span>\n\
             \x20 </div>\n",
            name = escape_html(field.display_name),
            help = escape_html(field.help),
        ));
    }
    template.push_str("</div>\n");
    json!({ "template": template })
}

/// Reads the body of `go.plugin-settings.validate-configuration`:
/// `{"plugin-settings": {"<key>": {"value": "<value>"}}}`. A null or absent value counts as empty.
pub fn parse_validation_request(
    body: Option<&[u8]>,
) -> Result<BTreeMap<String, String>, Vec<Problem>> {
    let root = decode_value(body).map_err(|problem| vec![problem])?;
    let root = as_object("body", &root).map_err(|problem| vec![problem])?;
    let Some(settings) = root.get("plugin-settings") else {
        return Err(vec![Problem::missing(
            "plugin-settings",
            "an object of settings",
        )]);
    };
    let settings = as_object("plugin-settings", settings).map_err(|problem| vec![problem])?;

    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, entry) in settings {
        let path = format!("plugin-settings.{key}");
        let value = match entry {
            Value::Object(entry) => entry.get("value").unwrap_or(&Value::Null),
            other => {
                problems.push(Problem::expected(&path, "an object with a value", other));
                continue;
            }
        };
        match value {
            Value::Null => values.insert(key.clone(), String::new()),
            Value::String(text) => values.insert(key.clone(), text.clone()),
            other => {
                problems.push(Problem::expected(
                    &format!("{path}.value"),
                    "a string or null",
                    other,
                ));
                continue;
            }
        };
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// Reads stored settings as GoCD sends them: a flat `{"<key>": "<value>"}` object, in the body of
/// `go.plugin-settings.plugin-settings-changed` and in the response to `go.processor.plugin-settings.get`.
///
/// `None` and a JSON `null` mean that no settings were ever saved, which gives an empty map.
pub fn parse_stored_values(body: Option<&[u8]>) -> Result<BTreeMap<String, String>, Vec<Problem>> {
    let Some(bytes) = body else {
        return Ok(BTreeMap::new());
    };
    let root = decode_value(Some(bytes)).map_err(|problem| vec![problem])?;
    if root.is_null() {
        return Ok(BTreeMap::new());
    }
    let root = as_object("body", &root).map_err(|problem| vec![problem])?;

    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in root {
        match value {
            Value::Null => {
                values.insert(key.clone(), String::new());
            }
            Value::String(text) => {
                values.insert(key.clone(), text.clone());
            }
            other => problems.push(Problem::expected(key, "a string or null", other)),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

fn field_problem(key: &str, message: String) -> FieldProblem {
    FieldProblem {
        key: key.to_string(),
        message,
    }
}

fn not_absolute_message(path: &str) -> String {
    format!("\"{path}\" is not an absolute path: enter a path that starts with /, such as /var/log/go-server/herald-events.log")
}

fn unknown_zone_message(name: &str) -> String {
    format!("\"{name}\" is not an IANA time zone name: enter a name such as UTC or Europe/Berlin")
}

fn validate_event_log_path(value: &str) -> Vec<String> {
    check_event_log_path(value).err().into_iter().collect()
}

fn check_event_log_path(value: &str) -> Result<(), String> {
    let path = Path::new(value);
    if !path.is_absolute() {
        return Err(not_absolute_message(value));
    }
    if path.is_dir() {
        return Err(format!(
            "{value} is a folder: enter the path of a file inside it"
        ));
    }
    let Some(folder) = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    else {
        return Err(format!(
            "{value} names no file: enter the path of a file inside a folder"
        ));
    };
    if !folder.is_dir() {
        return Err(format!(
            "folder {} does not exist: create it or choose a file in an existing folder",
            folder.display()
        ));
    }

    if path.exists() {
        // Opening a FIFO for writing blocks until a reader opens it, so only regular files are
        // opened here.
        let is_file = fs::metadata(path).is_ok_and(|metadata| metadata.is_file());
        if !is_file {
            return Err(format!(
                "{value} is not a regular file: enter the path of a regular file or of a file that does not exist yet"
            ));
        }
        OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|error| {
                format!("cannot write to {value}: {error}. Give the GoCD server user write access")
            })
    } else {
        probe_writable_folder(folder)
    }
}

/// Checks that `folder` accepts new files by creating and removing an empty probe file, because
/// permission bits alone do not account for ACLs, read-only mounts or the user GoCD runs as.
fn probe_writable_folder(folder: &Path) -> Result<(), String> {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".herald-write-check-{}-{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::Relaxed)
    );
    let probe = folder.join(name);
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => Err(format!(
            "cannot create files in folder {}: {error}. Give the GoCD server user write access or choose another folder",
            folder.display()
        )),
    }
}

fn validate_time_zone(value: &str) -> Vec<String> {
    match Tz::from_str(value) {
        Ok(_) => Vec::new(),
        Err(_) => vec![unknown_zone_message(value)],
    }
}

fn not_absolute_folder_message(path: &str) -> String {
    format!("\"{path}\" is not an absolute path: enter a folder path that starts with /, such as /var/lib/go-server/herald-queue")
}

/// Checks that the queue folder can be used: an existing folder must accept new files, and a
/// missing one must be creatable, so its closest existing parent must accept new folders.
fn validate_queue_folder(value: &str) -> Vec<String> {
    let path = Path::new(value);
    if !path.is_absolute() {
        return vec![not_absolute_folder_message(value)];
    }
    if path.exists() {
        if !path.is_dir() {
            return vec![format!(
                "{value} is not a folder: enter the path of a folder, which Herald creates when it is missing"
            )];
        }
        return probe_writable_folder(path).err().into_iter().collect();
    }
    match path.ancestors().skip(1).find(|parent| parent.exists()) {
        Some(parent) if parent.is_dir() => {
            probe_writable_folder(parent).err().into_iter().collect()
        }
        Some(parent) => vec![format!(
            "{} is a file, so folder {value} cannot be created: choose another folder",
            parent.display()
        )],
        None => vec![format!(
            "folder {value} cannot be created: choose another folder"
        )],
    }
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
