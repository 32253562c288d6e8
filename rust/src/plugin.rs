//! Entry point of the core: dispatches GoCD requests by name. Contains no JNI types.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::delivery::count_noun;
use crate::delivery::service::Service as Delivery;
use crate::event::{AgentEvent, StageEvent};
use crate::event_log::EventLog;
use crate::protocol::agent::parse_agent_status;
use crate::protocol::body::decode_value;
use crate::protocol::stage::parse_stage_status;
use crate::protocol::{self, answer, messages, Problem};
use crate::settings::{self, FieldProblem, Settings};

/// Version of the core, compared with the Java side's expectation right after loading.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Response to one GoCD request: the response code and the JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub body: String,
}

impl Response {
    fn ok(body: String) -> Response {
        Response { code: 200, body }
    }

    fn bad_request(messages: Vec<String>) -> Response {
        Response {
            code: 400,
            body: answer::failure(messages),
        }
    }
}

/// Server details from `go.processor.server-info.get`, kept for links back to GoCD.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub server_id: Option<String>,
    pub site_url: Option<String>,
    pub secure_site_url: Option<String>,
}

/// The plugin's state for one load of the library. Safe to share between threads: GoCD sends
/// notifications and settings requests on different threads.
#[derive(Default)]
pub struct Plugin {
    settings: RwLock<Arc<Settings>>,
    /// Whether stored settings were applied since the library was loaded, so the first
    /// application is logged at info level even when it equals the defaults.
    settings_applied: AtomicBool,
    server_info: RwLock<Arc<ServerInfo>>,
    /// Reason the stored settings were rejected the last time they were applied, or `None` when
    /// they applied. Notification responses report it, because GoCD shows their messages as
    /// server health messages, and no other place shows the rejection to the admin.
    rejected_settings: RwLock<Option<String>>,
    event_log: EventLog,
    delivery: Delivery,
}

impl Plugin {
    pub fn new() -> Self {
        Plugin::default()
    }

    /// Handles one request. `body` is `None` when GoCD sent a null body.
    ///
    /// Invalid notification bodies get code 200 with a failure body, because GoCD shows the
    /// messages of such a response to the administrator. An unknown request name gets code 400.
    pub fn handle(&self, request_name: &str, api_version: &str, body: Option<&[u8]>) -> Response {
        match request_name {
            protocol::NOTIFICATIONS_INTERESTED_IN => {
                let notifications = self.settings().interested_notifications(api_version);
                Response::ok(json!({ "notifications": notifications }).to_string())
            }
            protocol::STAGE_STATUS => self.handle_stage_status(api_version, body),
            protocol::AGENT_STATUS => self.handle_agent_status(api_version, body),
            protocol::GET_CONFIGURATION => Response::ok(settings::configuration().to_string()),
            protocol::GET_VIEW => Response::ok(settings::view().to_string()),
            protocol::VALIDATE_CONFIGURATION => handle_validate_configuration(body),
            protocol::PLUGIN_SETTINGS_CHANGED => self.handle_plugin_settings_changed(body),
            other => {
                log::warn!("GoCD sent the unsupported request {other:?} (API {api_version}); responding with 400");
                Response::bad_request(vec![format!(
                    "unsupported request {}: Herald handles {}",
                    Value::from(other),
                    protocol::SUPPORTED_REQUESTS.join(", ")
                )])
            }
        }
    }

    /// Applies the body of `go.processor.plugin-settings.get`; `None` or `null` means never saved,
    /// which applies the defaults. On error the settings in force stay unchanged.
    pub fn apply_plugin_settings(&self, body: Option<&[u8]>) -> Result<(), String> {
        self.apply_stored_settings(body)
            .map_err(|messages| messages.join("; "))
    }

    /// Applies the body of `go.processor.server-info.get` (site URLs for links).
    pub fn apply_server_info(&self, body: Option<&[u8]>) -> Result<(), String> {
        let value = decode_value(body).map_err(|problem| format!("server info: {problem}"))?;
        let info: ServerInfo = serde_json::from_value(value)
            .map_err(|error| format!("server info: expected an object with server_id, site_url and secure_site_url: {error}"))?;
        log::info!(
            "GoCD server info: site URL {}, secure site URL {}",
            info.site_url.as_deref().unwrap_or("(none)"),
            info.secure_site_url.as_deref().unwrap_or("(none)")
        );
        let site_url = info
            .site_url
            .clone()
            .or_else(|| info.secure_site_url.clone())
            .filter(|url| !url.is_empty());
        self.delivery.set_server_site_url(site_url);
        *self
            .server_info
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(info);
        Ok(())
    }

    /// Returns the server info applied last, empty until [`Plugin::apply_server_info`] succeeds.
    pub fn server_info(&self) -> Arc<ServerInfo> {
        Arc::clone(
            &self
                .server_info
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Returns the settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(
            &self
                .settings
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Starts delivery when at least one destination is configured. Called from the plugin's
    /// `@Load`; settings applied later open, replace or close the delivery engine.
    pub fn start(&self) {
        self.delivery.start();
    }

    /// Stops delivery and joins every sender thread, cutting off requests still in flight
    /// after a few seconds (their events stay queued). Called from the plugin's `@UnLoad`.
    pub fn stop(&self) {
        self.delivery.stop();
    }

    /// Returns one message per failing delivery destination, or why delivery could not start.
    /// Empty when delivery is healthy or off.
    pub fn delivery_status(&self) -> Vec<String> {
        self.delivery.status()
    }

    /// Returns true while a delivery engine runs.
    pub fn delivery_running(&self) -> bool {
        self.delivery.is_open()
    }

    fn handle_stage_status(&self, api_version: &str, body: Option<&[u8]>) -> Response {
        let settings = self.settings();
        let event = match parse_stage_status(body, api_version, settings.legacy_time_zone) {
            Ok(event) => event,
            Err(problems) => {
                return reject_notification(protocol::STAGE_STATUS, api_version, &problems)
            }
        };

        log::debug!("{}", describe_stage_event(&event));
        let mut messages = self.rejected_settings_message();
        messages.extend(self.record(&settings, protocol::STAGE_STATUS, &event));
        // The body parsed, so it is present.
        messages.extend(self.delivery.accept(&event, body.unwrap_or_default()));
        respond(messages)
    }

    fn handle_agent_status(&self, api_version: &str, body: Option<&[u8]>) -> Response {
        let settings = self.settings();
        let event = match parse_agent_status(body, api_version) {
            Ok(event) => event,
            Err(problems) => {
                return reject_notification(protocol::AGENT_STATUS, api_version, &problems)
            }
        };

        log::debug!("{}", describe_agent_event(&event));
        let mut messages = self.rejected_settings_message();
        messages.extend(self.record(&settings, protocol::AGENT_STATUS, &event));
        messages.extend(self.delivery.accept_agent(&event, body.unwrap_or_default()));
        respond(messages)
    }

    /// Returns the rejection of the stored settings, if the last ones were rejected.
    fn rejected_settings_message(&self) -> Vec<String> {
        self.rejected_settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Appends an accepted event to the event log when one is set. Returns the failure message,
    /// if any.
    fn record<T: Serialize>(&self, settings: &Settings, kind: &str, event: &T) -> Vec<String> {
        let Some(path) = &settings.event_log_path else {
            return Vec::new();
        };
        match self.event_log.append(path, kind, Utc::now(), event) {
            Ok(()) => Vec::new(),
            Err(error) => {
                log::error!("{error}");
                vec![error.to_string()]
            }
        }
    }

    fn handle_plugin_settings_changed(&self, body: Option<&[u8]>) -> Response {
        // GoCD ignores the body of this response and only logs a code other than 200.
        match self.apply_stored_settings(body) {
            Ok(()) => Response::ok(json!({}).to_string()),
            Err(messages) => {
                log::warn!(
                    "Herald keeps its previous settings because the changed ones were rejected: {}",
                    answer::limit_messages(messages.clone()).join("; ")
                );
                Response::bad_request(messages)
            }
        }
    }

    /// Applies stored settings and remembers whether they were rejected.
    fn apply_stored_settings(&self, body: Option<&[u8]>) -> Result<(), Vec<String>> {
        let outcome = self.parse_and_apply_settings(body);
        let rejection = outcome.as_ref().err().map(|messages| {
            format!(
                "Herald rejected its saved plugin settings and still uses the settings it had before (the defaults when none applied since the server started): {}. Correct them on the plugin settings page.",
                answer::limit_messages(messages.clone()).join("; ")
            )
        });
        *self
            .rejected_settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = rejection;
        outcome
    }

    fn parse_and_apply_settings(&self, body: Option<&[u8]>) -> Result<(), Vec<String>> {
        let values = settings::parse_stored_values(body).map_err(|problems| messages(&problems))?;
        let settings =
            Settings::from_values(&values).map_err(|problems| field_messages(&problems))?;
        if body.is_none() {
            log::info!(
                "Herald plugin settings were never saved; using the defaults: {}",
                settings.summary()
            );
        } else if self.settings_applied.load(Ordering::Acquire) && *self.settings() == settings {
            // The Java side of the plugin fetches the settings again on the first stage-status
            // after every change, so equal values are no news to the admin.
            log::debug!("Herald plugin settings unchanged: {}", settings.summary());
        } else {
            log::info!("Herald plugin settings applied: {}", settings.summary());
        }
        let delivery_config = settings.delivery_config();
        let delivery_values = settings
            .delivery_values()
            .into_iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        *self
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(settings);
        self.settings_applied.store(true, Ordering::Release);
        self.delivery.apply(delivery_config, delivery_values);
        Ok(())
    }
}

/// Builds the response to a notification: success, or failure with `messages`.
fn respond(messages: Vec<String>) -> Response {
    if messages.is_empty() {
        Response::ok(answer::success())
    } else {
        Response::ok(answer::failure(messages))
    }
}

fn handle_validate_configuration(body: Option<&[u8]>) -> Response {
    match settings::parse_validation_request(body) {
        Ok(values) => Response::ok(json!(settings::validate(&values)).to_string()),
        Err(problems) => Response::bad_request(messages(&problems)),
    }
}

fn reject_notification(kind: &str, api_version: &str, problems: &[Problem]) -> Response {
    let messages = messages(problems);
    log::warn!(
        "rejected the {kind} notification (API {api_version}) with {}: {}",
        count_noun(messages.len() as u64, "problem", "problems"),
        answer::limit_messages(messages.clone()).join("; ")
    );
    Response::ok(answer::failure(messages))
}

fn field_messages(problems: &[FieldProblem]) -> Vec<String> {
    problems
        .iter()
        .map(|problem| format!("{}: {}", problem.key, problem.message))
        .collect()
}

/// Describes a stage event for the plugin log: `stage-status: pipeline build/12 stage test/1 is
/// Failed (result Failed)`.
fn describe_stage_event(event: &StageEvent) -> String {
    format!(
        "stage-status: pipeline {}/{} stage {}/{} is {} (result {})",
        event.pipeline.name,
        event.pipeline.counter,
        event.stage.name,
        event.stage.counter,
        event.stage.state,
        event.stage.result
    )
}

fn describe_agent_event(event: &AgentEvent) -> String {
    format!(
        "agent-status: agent {} ({}) is {}, build state {}, config state {}",
        event.host_name.as_deref().unwrap_or("unknown host"),
        event.uuid,
        event.agent_state,
        event.build_state,
        event.agent_config_state
    )
}

#[cfg(test)]
#[path = "plugin_tests.rs"]
mod tests;
