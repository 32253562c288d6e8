//! Argument conversion, error mapping and panic containment shared by the JNI exports.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use jni::objects::{JByteArray, JString};
use jni::sys::jstring;
use jni::JNIEnv;

use super::logging;

/// A failure of the bridge itself, raised in Java as an exception.
#[derive(Debug)]
pub enum BridgeError {
    InvalidArgument(String),
    Jni(jni::errors::Error),
}

impl From<jni::errors::Error> for BridgeError {
    fn from(error: jni::errors::Error) -> Self {
        BridgeError::Jni(error)
    }
}

/// Runs one export's work: installs logging and the panic hook, turns a [`BridgeError`] into a
/// pending Java exception and a panic into an `IllegalStateException`. Returns `None` when an
/// exception is pending, in which case the JVM ignores the export's return value.
pub fn run<T>(
    env: &mut JNIEnv,
    export: &str,
    work: impl FnOnce(&mut JNIEnv) -> Result<T, BridgeError>,
) -> Option<T> {
    logging::install();
    install_panic_hook();

    let outcome = panic::catch_unwind(AssertUnwindSafe(|| work(env)));
    let message = match outcome {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(BridgeError::InvalidArgument(message))) => {
            throw(
                env,
                "java/lang/IllegalArgumentException",
                &format!("{export}: {message}"),
            );
            return None;
        }
        Ok(Err(BridgeError::Jni(jni::errors::Error::JavaException))) => return None,
        Ok(Err(BridgeError::Jni(error))) => format!("{export}: JNI call failed: {error}"),
        Err(payload) => format!(
            "{export}: panic in Herald's native code: {}",
            panic_message(&*payload)
        ),
    };
    throw(env, "java/lang/IllegalStateException", &message);
    None
}

/// Runs `work`, returning the panic message instead of unwinding. The panic hook has already
/// logged the message and the backtrace by the time this returns.
pub fn catch_panic<T>(context: &str, work: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(work)).map_err(|payload| {
        let message = panic_message(&*payload);
        log::error!("{context}: recovered from a panic: {message}");
        message
    })
}

/// Builds a GoCD failure response body `{"status": "failure", "messages": [message]}`.
pub fn failure_body(message: &str) -> String {
    serde_json::json!({ "status": "failure", "messages": [message] }).to_string()
}

/// Reads a non-null Java string. Lone surrogates become U+FFFD instead of failing.
///
/// `value` must be a parameter that the Java native method declares as `String`.
pub fn read_string(
    env: &mut JNIEnv,
    value: &JString,
    name: &'static str,
) -> Result<String, BridgeError> {
    if value.is_null() {
        return Err(BridgeError::InvalidArgument(format!(
            "{name} must not be null"
        )));
    }
    // `JNIEnv::get_string` checks the class with `FindClass` on every call, which cost more than
    // the rest of a small request. The JVM already guarantees the type of a parameter declared
    // as `String`.
    // SAFETY: every caller passes a `String` parameter of its native method (see above).
    let text = unsafe { env.get_string_unchecked(value)? };
    Ok(text.into())
}

/// Reads a byte array, `None` when the Java reference is null.
pub fn read_optional_bytes(
    env: &JNIEnv,
    value: &JByteArray,
) -> Result<Option<Vec<u8>>, BridgeError> {
    if value.is_null() {
        return Ok(None);
    }
    Ok(Some(env.convert_byte_array(value)?))
}

/// Maps the outcome of an `apply_*` call to a Java string: null on success, else the reason.
pub fn error_string(
    env: &mut JNIEnv,
    outcome: Result<Result<(), String>, String>,
) -> Result<jstring, BridgeError> {
    let reason = match outcome {
        Ok(Ok(())) => return Ok(std::ptr::null_mut()),
        Ok(Err(reason)) => reason,
        Err(panic_message) => format!("internal error ({panic_message}); see the plugin log"),
    };
    Ok(env.new_string(reason)?.into_raw())
}

fn throw(env: &mut JNIEnv, class: &str, message: &str) {
    if env.exception_check().unwrap_or(true) {
        return;
    }
    if let Err(error) = env.throw_new(class, message) {
        log::error!("could not raise {class} ({message}): {error}");
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

thread_local! {
    static IN_PANIC_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Replaces the default panic hook (which writes to stderr, where a GoCD admin seldom looks) with
/// one that logs the panic and its backtrace through the plugin log.
fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        panic::set_hook(Box::new(|info| {
            // A panic inside the logger would re-enter this hook, so that one goes to stderr unformatted.
            if IN_PANIC_HOOK.with(|flag| flag.replace(true)) {
                eprintln!("herald: panic while logging a panic: {info}");
                return;
            }
            let backtrace = Backtrace::force_capture();
            log::error!("panic in Herald's native code: {info}\n{backtrace}");
            IN_PANIC_HOOK.with(|flag| flag.set(false));
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_body_escapes_message() {
        let body = failure_body("bad \"quote\" and \\ backslash");
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["status"], "failure");
        assert_eq!(parsed["messages"][0], "bad \"quote\" and \\ backslash");
    }

    #[test]
    fn catch_panic_returns_message() {
        let outcome = catch_panic("test", || -> u8 { panic!("boom {}", 7) });
        assert_eq!(outcome, Err("boom 7".to_owned()));
    }

    #[test]
    fn catch_panic_passes_value_through() {
        assert_eq!(catch_panic("test", || 5), Ok(5));
    }
}
