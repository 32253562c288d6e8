package io.herald.gocd;

import com.thoughtworks.go.plugin.api.logging.Logger;
import java.util.Locale;

/** Receives Rust log records and writes them to GoCD's plugin log. Called from native code only. */
final class NativeLog {
    static final int OFF = 0;
    static final int ERROR = 1;
    static final int WARN = 2;
    static final int INFO = 3;
    static final int DEBUG = 4;

    /**
     * System property that sets a plugin's log level in GoCD (default info). The plugin API's
     * {@link Logger} cannot report its level, so the native side reads it from here and skips
     * records GoCD would drop before they cross JNI.
     */
    static final String LEVEL_PROPERTY = "plugin." + HeraldPlugin.PLUGIN_ID + ".log.level";

    private static final Logger LOGGER = Logger.getLoggerFor(HeraldPlugin.class);

    private NativeLog() {
    }

    /** Returns the most detailed level GoCD writes for this plugin, from {@link #LEVEL_PROPERTY}. */
    static int configuredLevel() {
        String level = System.getProperty(LEVEL_PROPERTY);
        if (level == null) {
            return INFO;
        }
        switch (level.trim().toLowerCase(Locale.ROOT)) {
            case "off":
                return OFF;
            case "error":
                return ERROR;
            case "warn":
                return WARN;
            case "debug":
            case "trace":
            case "all":
                return DEBUG;
            default:
                // Logback reads an unknown level name as info, and so does GoCD's default.
                return INFO;
        }
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
