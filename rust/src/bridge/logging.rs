//! Routes `log` records to GoCD's plugin log while the plugin is loaded, else to `env_logger`.
//!
//! Inside GoCD, two kinds of records go to the static method
//! `io.herald.gocd.NativeLog.log(int, String)`, which writes them through the plugin API's
//! `Logger`: Herald's records up to the plugin's log level in GoCD, and other crates' records at
//! warn and above. The level is info unless the `plugin.herald.notifier.log.level` system
//! property sets another. Other crates' info and debug records go to
//! `env_logger`, configured with `RUST_LOG`, and so does every record without a JVM (cargo tests,
//! tools) or between `stop` and the next `start`.

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
    /// The plugin's log level in GoCD. Records more detailed than this would be dropped by
    /// GoCD's logger, so they do not cross JNI.
    max_level: LevelFilter,
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

/// Starts forwarding records up to `java_level` (a `NativeLog` level: 0 off, 1 error, 2 warn,
/// 3 info, 4 debug) to `NativeLog.log`. Must run on a thread whose calling Java code was loaded by
/// the plugin's classloader, because `FindClass` searches that classloader.
pub fn attach_java_sink(env: &mut JNIEnv, java_level: i32) -> jni::errors::Result<()> {
    install();
    let class = env.find_class(SINK_CLASS)?;
    let method = env.get_static_method_id(&class, SINK_METHOD, SINK_SIGNATURE)?;
    let max_level = level_filter(java_level);
    let sink = JavaSink {
        vm: env.get_java_vm()?,
        class: env.new_global_ref(&class)?,
        method,
        max_level,
    };

    *write_sink() = Some(sink);
    // The `log` macros compare with this global first, so a record above both levels costs
    // one atomic load and never formats its message.
    log::set_max_level(max_level.max(LOGGER.fallback.filter()));
    Ok(())
}

/// Maps a `NativeLog` level to a filter. Values above debug mean debug, and values below off
/// mean off.
fn level_filter(java_level: i32) -> LevelFilter {
    match java_level {
        i32::MIN..=0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        _ => LevelFilter::Debug,
    }
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
        let forwarded = match self.java.read() {
            Ok(sink) => sink.as_ref().is_some_and(|sink| {
                metadata.level() <= forwarded_level(metadata.target())
                    && metadata.level() <= sink.max_level
            }),
            Err(_) => false,
        };
        forwarded || self.fallback.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        // The jni crate logs each thread attach and detach. Forwarding those records attaches
        // the thread again, and on a thread that is ending the detach in its thread-local
        // destructor then logs again, recursing until the stack overflows.
        if record.target().starts_with("jni::") {
            self.fallback.log(record);
            return;
        }
        let handled = match self.java.read() {
            Ok(sink) => match sink.as_ref() {
                Some(sink) if record.level() <= forwarded_level(record.target()) => {
                    // A record above GoCD's level for the plugin is dropped, as GoCD would
                    // drop it.
                    record.level() > sink.max_level || forward(sink, record)
                }
                // A trace record is dropped here, and a dependency's record below warn goes
                // to the fallback, which applies `RUST_LOG`.
                Some(_) => record.level() > Level::Debug,
                None => false,
            },
            Err(_) => false,
        };
        if !handled {
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

    #[test]
    fn level_filter_from_java_level() {
        assert_eq!(level_filter(-1), LevelFilter::Off);
        assert_eq!(level_filter(0), LevelFilter::Off);
        assert_eq!(level_filter(1), LevelFilter::Error);
        assert_eq!(level_filter(2), LevelFilter::Warn);
        assert_eq!(level_filter(3), LevelFilter::Info);
        assert_eq!(level_filter(4), LevelFilter::Debug);
        assert_eq!(level_filter(99), LevelFilter::Debug);
    }
}
