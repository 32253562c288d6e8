//! GoCD request bodies: decoding, validation and the responses Herald returns.
//!
//! Parsers collect every problem they find as a [`Problem`] instead of stopping at the first, so
//! one failure response lists everything that is wrong with a body. [`answer`] turns problems into
//! the `{"status": "failure", "messages": [...]}` body in one place.

pub mod agent;
pub mod answer;
pub mod body;
mod duplicate_keys;
mod fields;
mod problem;
pub mod stage;
mod stage_typed;
pub mod time;

pub use problem::{messages, Problem};

pub const NOTIFICATIONS_INTERESTED_IN: &str = "notifications-interested-in";
pub const STAGE_STATUS: &str = "stage-status";
pub const AGENT_STATUS: &str = "agent-status";
pub const GET_CONFIGURATION: &str = "go.plugin-settings.get-configuration";
pub const GET_VIEW: &str = "go.plugin-settings.get-view";
pub const VALIDATE_CONFIGURATION: &str = "go.plugin-settings.validate-configuration";
pub const PLUGIN_SETTINGS_CHANGED: &str = "go.plugin-settings.plugin-settings-changed";

/// Request names that [`crate::plugin::Plugin::handle`] handles, in the order error messages list them.
pub const SUPPORTED_REQUESTS: [&str; 7] = [
    NOTIFICATIONS_INTERESTED_IN,
    STAGE_STATUS,
    AGENT_STATUS,
    GET_CONFIGURATION,
    GET_VIEW,
    VALIDATE_CONFIGURATION,
    PLUGIN_SETTINGS_CHANGED,
];

/// Version of GoCD's notification extension API that a request was sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    V1,
    V2,
    V3,
    V4,
}

impl ApiVersion {
    pub const ALL: [ApiVersion; 4] = [
        ApiVersion::V1,
        ApiVersion::V2,
        ApiVersion::V3,
        ApiVersion::V4,
    ];

    /// Parses the version string GoCD sends with each request (`1.0` to `4.0`).
    pub fn parse(text: &str) -> Option<ApiVersion> {
        ApiVersion::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
    }

    /// Returns the version as GoCD writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "1.0",
            ApiVersion::V2 => "2.0",
            ApiVersion::V3 => "3.0",
            ApiVersion::V4 => "4.0",
        }
    }

    /// Parses `text` or returns the problem to report for the `api-version` of the request.
    pub(crate) fn parse_or_problem(
        text: &str,
        supported: &[ApiVersion],
    ) -> Result<ApiVersion, Problem> {
        match ApiVersion::parse(text).filter(|version| supported.contains(version)) {
            Some(version) => Ok(version),
            None => {
                let names: Vec<&str> = supported.iter().map(|version| version.as_str()).collect();
                Err(Problem::new(
                    "api-version",
                    format!(
                        "expected one of {}, found {}",
                        names.join(", "),
                        problem::quote(text)
                    ),
                ))
            }
        }
    }
}
