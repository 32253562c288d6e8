//! JNI exports for the Java class `io.herald.gocd.NativeBridge`.
//!
//! Each export converts its arguments, calls [`Plugin`] and converts the result back. Bridge
//! failures (a null argument, a failed JNI call) become Java exceptions, which the Java side turns
//! into failure responses. A panic never crosses the boundary: [`guard::run`] catches it.

mod guard;
pub mod logging;

use std::sync::LazyLock;

use jni::objects::{JByteArray, JClass, JIntArray, JString};
use jni::sys::{jbyteArray, jint, jstring};
use jni::JNIEnv;

use crate::plugin::{Plugin, Response, CORE_VERSION};
use guard::BridgeError;

/// The plugin of this copy of the library. GoCD loads each plugin jar in its own classloader, and
/// the Java loader gives every load its own copy of the library file, so each load gets a fresh
/// instance of this static.
static PLUGIN: LazyLock<Plugin> = LazyLock::new(Plugin::new);

/// Returns [`CORE_VERSION`], which the Java loader compares with the version the jar was built with.
///
/// # Safety
///
/// Called only by the JVM, with the `JNIEnv` of the calling thread.
#[no_mangle]
pub unsafe extern "system" fn Java_io_herald_gocd_NativeBridge_coreVersion<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
) -> jstring {
    guard::run(&mut env, "coreVersion", |env| {
        Ok(env.new_string(CORE_VERSION)?.into_raw())
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Forwards Rust log records up to `log_level` (a `NativeLog` level constant) to GoCD's plugin
/// log and starts the plugin's background work.
///
/// # Safety
///
/// Called only by the JVM, with the `JNIEnv` of the calling thread.
#[no_mangle]
pub unsafe extern "system" fn Java_io_herald_gocd_NativeBridge_start<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    log_level: jint,
) {
    guard::run(&mut env, "start", |env| {
        logging::attach_java_sink(env, log_level)?;
        PLUGIN.start();
        Ok(())
    });
}

/// Stops the plugin's background work, then stops log forwarding and releases its global
/// references, so an unloaded plugin keeps no thread and no reference to its classloader.
///
/// # Safety
///
/// Called only by the JVM, with the `JNIEnv` of the calling thread.
#[no_mangle]
pub unsafe extern "system" fn Java_io_herald_gocd_NativeBridge_stop<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
) {
    guard::run(&mut env, "stop", |_env| {
        PLUGIN.stop();
        logging::detach_java_sink();
        Ok(())
    });
}

/// Handles one GoCD request. `body` is the UTF-8 request body, or null when GoCD sent none.
/// Writes the response code to `code_out[0]` and returns the UTF-8 response body.
///
/// A panic inside the plugin becomes a failure response with code 500.
///
/// # Safety
///
/// Called only by the JVM, with the `JNIEnv` of the calling thread.
#[no_mangle]
pub unsafe extern "system" fn Java_io_herald_gocd_NativeBridge_handle<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    request_name: JString<'local>,
    api_version: JString<'local>,
    body: JByteArray<'local>,
    code_out: JIntArray<'local>,
) -> jbyteArray {
    guard::run(&mut env, "handle", |env| {
        let request_name = guard::read_string(env, &request_name, "requestName")?;
        let api_version = guard::read_string(env, &api_version, "apiVersion")?;
        let body = guard::read_optional_bytes(env, &body)?;
        if code_out.is_null() || env.get_array_length(&code_out)? < 1 {
            return Err(BridgeError::InvalidArgument(
                "codeOut must be an int[] of length 1".to_owned(),
            ));
        }

        let response = guard::catch_panic(&request_name, || {
            PLUGIN.handle(&request_name, &api_version, body.as_deref())
        })
        .unwrap_or_else(|panic_message| Response {
            code: 500,
            body: guard::failure_body(&format!(
                "Herald failed on request {request_name:?}: internal error ({panic_message}); see the plugin log"
            )),
        });

        env.set_int_array_region(&code_out, 0, &[i32::from(response.code)])?;
        Ok(env.byte_array_from_slice(response.body.as_bytes())?.into_raw())
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Applies the body of `go.processor.plugin-settings.get` (null when settings were never saved).
/// Returns null on success, otherwise the reason the settings were rejected.
///
/// # Safety
///
/// Called only by the JVM, with the `JNIEnv` of the calling thread.
#[no_mangle]
pub unsafe extern "system" fn Java_io_herald_gocd_NativeBridge_applyPluginSettings<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    body: JByteArray<'local>,
) -> jstring {
    guard::run(&mut env, "applyPluginSettings", |env| {
        let body = guard::read_optional_bytes(env, &body)?;
        let outcome = guard::catch_panic("applyPluginSettings", || {
            PLUGIN.apply_plugin_settings(body.as_deref())
        });
        guard::error_string(env, outcome)
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Applies the body of `go.processor.server-info.get`. Returns null on success, otherwise the
/// reason the server info was rejected.
///
/// # Safety
///
/// Called only by the JVM, with the `JNIEnv` of the calling thread.
#[no_mangle]
pub unsafe extern "system" fn Java_io_herald_gocd_NativeBridge_applyServerInfo<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    body: JByteArray<'local>,
) -> jstring {
    guard::run(&mut env, "applyServerInfo", |env| {
        let body = guard::read_optional_bytes(env, &body)?;
        let outcome = guard::catch_panic("applyServerInfo", || {
            PLUGIN.apply_server_info(body.as_deref())
        });
        guard::error_string(env, outcome)
    })
    .unwrap_or(std::ptr::null_mut())
}
