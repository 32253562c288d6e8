//! Entry point of the core: dispatches GoCD requests by name. Contains no JNI types.

/// Version of the core, compared with the Java side's expectation right after loading.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Answer to one GoCD request: the response code and the JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub body: String,
}

/// The plugin's state for one load of the library. Safe to share between threads.
#[derive(Default)]
pub struct Plugin {}

impl Plugin {
    pub fn new() -> Self {
        Plugin {}
    }

    /// Handles one request. `body` is `None` when GoCD sent a null body.
    pub fn handle(&self, request_name: &str, api_version: &str, body: Option<&[u8]>) -> Response {
        // TODO: placeholder until the protocol module lands.
        let _ = (api_version, body);
        Response {
            code: 400,
            body: format!("{{\"status\":\"failure\",\"messages\":[\"unsupported request {request_name:?}\"]}}"),
        }
    }

    /// Applies the body of `go.processor.plugin-settings.get`; `None` means never saved.
    pub fn apply_plugin_settings(&self, body: Option<&[u8]>) -> Result<(), String> {
        let _ = body;
        Ok(())
    }

    /// Applies the body of `go.processor.server-info.get` (site URLs for links).
    pub fn apply_server_info(&self, body: Option<&[u8]>) -> Result<(), String> {
        let _ = body;
        Ok(())
    }

    /// Starts background work (delivery senders). Called from the plugin's `@Load`.
    pub fn start(&self) {}

    /// Stops background work and waits for it. Called from the plugin's `@UnLoad`.
    pub fn stop(&self) {}
}
