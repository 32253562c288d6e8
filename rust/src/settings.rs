//! Plugin settings: one table of fields from which the settings page, the validation and the
//! typed [`Settings`] are all derived.
//!
//! To add a setting, add a row to [`FIELDS`] with a validator, and read its value in
//! [`Settings::from_values`] (or through [`Settings::value`]).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::protocol::body::{as_object, decode_value};
use crate::protocol::{Problem, STAGE_STATUS};

pub const EVENT_LOG_PATH: &str = "event_log_path";
pub const LEGACY_TIME_ZONE: &str = "legacy_time_zone";

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
    /// Checks a non-empty value, including the state of the machine it names (files, folders).
    pub validate: fn(&str) -> Result<(), String>,
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
        validate: validate_time_zone,
    },
];

/// One validation message for a settings field, as GoCD's settings page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub key: String,
    pub message: String,
}

/// The typed plugin settings in force.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// File that accepted notifications are appended to, if any.
    pub event_log_path: Option<PathBuf>,
    /// Zone in which API 1.0 and 2.0 dates are local times.
    pub legacy_time_zone: Tz,
    values: BTreeMap<String, String>,
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

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            event_log_path,
            legacy_time_zone,
            values: effective,
        })
    }

    /// Returns the value in force for `key`, after defaults, or `None` for an unknown key.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Returns the notifications to ask GoCD for.
    pub fn interested_notifications(&self) -> Vec<&'static str> {
        // TODO: add protocol::AGENT_STATUS here once a setting opts in to agent notifications.
        vec![STAGE_STATUS]
    }

    /// Describes the settings for a log line.
    pub fn summary(&self) -> String {
        let event_log = match &self.event_log_path {
            Some(path) => path.display().to_string(),
            None => "off".to_string(),
        };
        format!(
            "event log {event_log}, time zone of API 1.0/2.0 dates {}",
            self.legacy_time_zone
        )
    }
}

/// Validates the values an administrator is saving; returns one problem per invalid field.
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
        if let Err(message) = (field.validate)(value) {
            problems.push(field_problem(field.key, message));
        }
    }
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
pub fn view() -> Value {
    let mut template = String::from("<div class=\"form_item_block\">\n");
    for field in FIELDS {
        let key = field.key;
        let input_type = if field.secure { "password" } else { "text" };
        let marker = if field.required {
            "<span class=\"asterix\">*</span>"
        } else {
            ""
        };
        template.push_str(&format!(
            "  <div class=\"form_item\">\n\
             \x20   <label>{name}:{marker}</label>\n\
             \x20   <input type=\"{input_type}\" ng-model=\"{key}\" ng-required=\"{required}\" placeholder=\"{default}\"/>\n\
             \x20   <span class=\"form_error\" ng-show=\"GOINPUTNAME[{key}].$error.server\">{{{{GOINPUTNAME[{key}].$error.server}}}}</span>\n\
             \x20   <span class=\"form_help\">{help}</span>\n\
             \x20 </div>\n",
            name = escape_html(field.display_name),
            required = field.required,
            default = escape_html(field.default_value),
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

fn validate_event_log_path(value: &str) -> Result<(), String> {
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

fn validate_time_zone(value: &str) -> Result<(), String> {
    Tz::from_str(value)
        .map(drop)
        .map_err(|_| unknown_zone_message(value))
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
