//! Routes `log` records to GoCD's plugin log while the plugin is loaded, else to `env_logger`.
//!
//! Inside GoCD, Herald's records up to debug and other crates' records at warn and above go to the
//! static method `io.herald.gocd.NativeLog.log(int, String)`, which writes them through the plugin
//! API's `Logger`. Other crates' info and debug records go to `env_logger`, configured with
//! `RUST_LOG`, and so does every record without a JVM (cargo tests, tools) or between `stop` and
//! the next `start`.

use std::sync::{LazyLock, Once, RwLock};

use jni::objects::{GlobalRef, JClass, JStaticMethodID};
use jni::signature::{Primitive, ReturnType};
use jni::sys::jvalue;
use jni::{JNIEnv, JavaVM};
use log::{Level, LevelFilter, Log, Metadata, Record};

const SINK_CLASS: &str = "io/herald/gocd/NativeLog";
const SINK_METHOD: &str = "log";
const SINK_SIGNATURE: &str = "(ILjava/lang/String;)V";

/// The Java side of log forwarding: the class holding the sink method and its cached method id.
struct JavaSink {
    vm: JavaVM,
    class: GlobalRef,
    method: JStaticMethodID,
}

struct BridgeLogger {
    fallback: env_logger::Logger,
    java: RwLock<Option<JavaSink>>,
}

static LOGGER: LazyLock<BridgeLogger> = LazyLock::new(|| BridgeLogger {
    fallback: env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .build(),
    java: RwLock::new(None),
});

/// Installs the logger for this copy of the library. Later calls do nothing, and a logger
/// installed by someone else first (a test harness, a tool) stays in place.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        if log::set_logger(&*LOGGER).is_ok() {
            log::set_max_level(LOGGER.fallback.filter());
        }
    });
}

/// Starts forwarding records to `NativeLog.log`. Must run on a thread whose calling Java code was
/// loaded by the plugin's classloader, because `FindClass` searches that classloader.
pub fn attach_java_sink(env: &mut JNIEnv) -> jni::errors::Result<()> {
    install();
    let class = env.find_class(SINK_CLASS)?;
    let method = env.get_static_method_id(&class, SINK_METHOD, SINK_SIGNATURE)?;
    let sink = JavaSink {
        vm: env.get_java_vm()?,
        class: env.new_global_ref(&class)?,
        method,
    };

    *write_sink() = Some(sink);
    // GoCD filters by the plugin's log level, so everything up to debug goes to Java.
    log::set_max_level(LevelFilter::Debug.max(LOGGER.fallback.filter()));
    Ok(())
}

/// Stops forwarding and releases the global reference to the sink class.
pub fn detach_java_sink() {
    let previous = write_sink().take();
    log::set_max_level(LOGGER.fallback.filter());
    drop(previous);
}

fn write_sink() -> std::sync::RwLockWriteGuard<'static, Option<JavaSink>> {
    // A panic while the lock was held cannot leave the Option half-written, so poisoning is moot.
    LOGGER
        .java
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Returns the most detailed level forwarded to GoCD for records of `target`. GoCD's logger
/// filters Herald's own records by the plugin's log level, but dependencies (ureq, rustls) log
/// every connection and handshake at debug level, which would flood the plugin log.
fn forwarded_level(target: &str) -> Level {
    let crate_name = target.split("::").next().unwrap_or(target);
    if crate_name == env!("CARGO_CRATE_NAME") {
        Level::Debug
    } else {
        Level::Warn
    }
}

impl Log for BridgeLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let forwarding = matches!(self.java.read(), Ok(sink) if sink.is_some());
        (forwarding && metadata.level() <= forwarded_level(metadata.target()))
            || self.fallback.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        // The jni crate logs each thread attach and detach. Forwarding those records attaches
        // the thread again, and on a thread that is ending the detach in its thread-local
        // destructor then logs again, recursing until the stack overflows.
        if record.target().starts_with("jni::") {
            self.fallback.log(record);
            return;
        }
        let forwarded = match self.java.read() {
            Ok(sink) => match sink.as_ref() {
                // A trace record is dropped here, and a dependency's record below warn goes
                // to the fallback, which applies `RUST_LOG`.
                Some(sink) if record.level() <= forwarded_level(record.target()) => {
                    forward(sink, record)
                }
                Some(_) => record.level() > Level::Debug,
                None => false,
            },
            Err(_) => false,
        };
        if !forwarded {
            self.fallback.log(record);
        }
    }

    fn flush(&self) {
        self.fallback.flush();
    }
}

/// Calls `NativeLog.log` for one record. Returns false when the record could not be delivered
/// (no JVM thread, a Java exception already pending), so the caller writes it to the fallback.
fn forward(sink: &JavaSink, record: &Record) -> bool {
    // Threads the JVM did not start are attached as daemons, so they never keep the JVM alive,
    // and they detach when they end.
    let Ok(mut env) = sink.vm.attach_current_thread_as_daemon() else {
        return false;
    };
    // JNI forbids most calls while an exception is pending, for example one an export just raised.
    if env.exception_check().unwrap_or(true) {
        return false;
    }

    let level = match record.level() {
        Level::Error => 1,
        Level::Warn => 2,
        Level::Info => 3,
        Level::Debug | Level::Trace => 4,
    };
    let text = format!("{}: {}", record.target(), record.args());

    // A local frame frees the message string at once, which matters on long-lived native threads
    // that never return to Java.
    let delivered = env.with_local_frame(4, |env| -> jni::errors::Result<()> {
        let message = env.new_string(text)?;
        let class = <&JClass>::from(sink.class.as_obj());
        let arguments = [
            jvalue { i: level },
            jvalue {
                l: message.as_raw(),
            },
        ];
        // SAFETY: the method id was looked up on this class with SINK_SIGNATURE, whose
        // parameters (int, String) match `arguments`, and it returns void.
        unsafe {
            env.call_static_method_unchecked(
                class,
                sink.method,
                ReturnType::Primitive(Primitive::Void),
                &arguments,
            )?;
        }
        Ok(())
    });

    if env.exception_check().unwrap_or(false) {
        let _ = env.exception_clear();
        return false;
    }
    delivered.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_level_by_crate() {
        assert_eq!(forwarded_level("herald"), Level::Debug);
        assert_eq!(forwarded_level("herald::delivery::sender"), Level::Debug);
        assert_eq!(forwarded_level("ureq::unversioned::transport"), Level::Warn);
        assert_eq!(forwarded_level("rustls::client::hs"), Level::Warn);
        assert_eq!(forwarded_level("heraldry"), Level::Warn);
    }
}
