package io.herald.gocd;

import com.thoughtworks.go.plugin.api.GoApplicationAccessor;
import com.thoughtworks.go.plugin.api.GoPluginIdentifier;
import com.thoughtworks.go.plugin.api.logging.Logger;
import com.thoughtworks.go.plugin.api.request.DefaultGoApiRequest;
import com.thoughtworks.go.plugin.api.response.GoApiResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the Rust core's copy of the plugin settings and server info in step with the GoCD server.
 *
 * <p>Settings are fetched lazily, before the first request that is not a settings-page request,
 * because GoCD hands over the accessor while it is still registering the plugin, and calls made
 * that early can fail. After that, they are fetched again:
 * <ul>
 *   <li>after {@code go.plugin-settings.plugin-settings-changed} (sent by servers speaking API 3.0+);
 *   <li>on API 1.0/2.0, which never send that request, after each
 *       {@code go.plugin-settings.validate-configuration} (an admin is saving), and in any case
 *       when the last fetch is older than {@link #LEGACY_REFRESH_NANOS}.
 * </ul>
 * A failed fetch is logged and tried again on the next request.
 */
final class ServerState {
    static final String PLUGIN_SETTINGS_GET = "go.processor.plugin-settings.get";
    static final String SERVER_INFO_GET = "go.processor.server-info.get";
    static final long LEGACY_REFRESH_NANOS = TimeUnit.SECONDS.toNanos(60);

    private static final Logger LOGGER = Logger.getLoggerFor(ServerState.class);

    private final GoPluginIdentifier identifier;
    // Written under this object's lock. Volatile so that a request can see without the lock that
    // nothing needs fetching, which is the case for almost every request.
    private GoApplicationAccessor accessor;
    private volatile boolean settingsStale = true;
    private volatile long lastSettingsFetch;
    private volatile boolean serverInfoApplied;

    ServerState(GoPluginIdentifier identifier) {
        this.identifier = identifier;
    }

    synchronized void setAccessor(GoApplicationAccessor accessor) {
        this.accessor = accessor;
        this.settingsStale = true;
        this.serverInfoApplied = false;
    }

    /** Fetches settings and server info if the rules above call for it. Runs before a request. */
    void refreshBefore(String requestName, String apiVersion) {
        if (!settingsStale && serverInfoApplied && !legacySettingsExpired(apiVersion)) {
            return;
        }
        synchronized (this) {
            if (accessor == null || requestName.startsWith("go.plugin-settings.")) {
                return;
            }
            if (settingsStale || legacySettingsExpired(apiVersion)) {
                fetchPluginSettings();
            }
            if (!serverInfoApplied) {
                fetchServerInfo();
            }
        }
    }

    /** Marks the settings for a fetch before the next request, if {@code requestName} may have changed them. */
    void noteHandled(String requestName, String apiVersion) {
        if ("go.plugin-settings.plugin-settings-changed".equals(requestName)
                || (isLegacyApi(apiVersion) && "go.plugin-settings.validate-configuration".equals(requestName))) {
            synchronized (this) {
                settingsStale = true;
            }
        }
    }

    private static boolean isLegacyApi(String apiVersion) {
        return "1.0".equals(apiVersion) || "2.0".equals(apiVersion);
    }

    /** API 1.0 and 2.0 servers never announce a settings change, so their settings expire. */
    private boolean legacySettingsExpired(String apiVersion) {
        return isLegacyApi(apiVersion) && System.nanoTime() - lastSettingsFetch > LEGACY_REFRESH_NANOS;
    }

    private void fetchPluginSettings() {
        GoApiResponse response = submit(PLUGIN_SETTINGS_GET, "{\"plugin-id\":" + FailureResponse.jsonString(HeraldPlugin.PLUGIN_ID) + "}");
        if (response == null) {
            return;
        }
        // A null body means the settings were never saved, and the core then uses its defaults.
        String rejected = NativeBridge.applyPluginSettings(bytesOf(response.responseBody()));
        if (rejected != null) {
            LOGGER.warn("Herald keeps its previous settings because the stored ones were rejected: " + rejected);
        }
        settingsStale = false;
        lastSettingsFetch = System.nanoTime();
    }

    private void fetchServerInfo() {
        GoApiResponse response = submit(SERVER_INFO_GET, null);
        if (response == null) {
            return;
        }
        String rejected = NativeBridge.applyServerInfo(bytesOf(response.responseBody()));
        if (rejected != null) {
            LOGGER.warn("Herald could not use the server info (links to GoCD pages stay off): " + rejected);
        }
        serverInfoApplied = true;
    }

    private GoApiResponse submit(String api, String body) {
        DefaultGoApiRequest request = new DefaultGoApiRequest(api, "1.0", identifier);
        if (body != null) {
            request.setRequestBody(body);
        }
        try {
            GoApiResponse response = accessor.submit(request);
            if (response == null || response.responseCode() != 200) {
                LOGGER.warn("GoCD returned code " + (response == null ? "none" : response.responseCode())
                        + " for " + api + "; Herald retries before the next request");
                return null;
            }
            return response;
        } catch (RuntimeException e) {
            LOGGER.warn("GoCD failed to process " + api + "; Herald retries before the next request", e);
            return null;
        }
    }

    private static byte[] bytesOf(String body) {
        return body == null ? null : body.getBytes(StandardCharsets.UTF_8);
    }
}
