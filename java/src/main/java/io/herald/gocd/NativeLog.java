package io.herald.gocd;

import com.thoughtworks.go.plugin.api.logging.Logger;

/** Receives Rust log records and writes them to GoCD's plugin log. Called from native code only. */
final class NativeLog {
    static final int ERROR = 1;
    static final int WARN = 2;
    static final int INFO = 3;

    private static final Logger LOGGER = Logger.getLoggerFor(HeraldPlugin.class);

    private NativeLog() {
    }

    /** Writes one record. The native logger finds this method by name and signature (ILjava/lang/String;)V. */
    static void log(int level, String message) {
        switch (level) {
            case ERROR:
                LOGGER.error(message);
                break;
            case WARN:
                LOGGER.warn(message);
                break;
            case INFO:
                LOGGER.info(message);
                break;
            default:
                LOGGER.debug(message);
                break;
        }
    }
}
