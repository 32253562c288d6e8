package io.herald.gocd;

import com.thoughtworks.go.plugin.api.GoApplicationAccessor;
import com.thoughtworks.go.plugin.api.GoPlugin;
import com.thoughtworks.go.plugin.api.GoPluginIdentifier;
import com.thoughtworks.go.plugin.api.annotation.Extension;
import com.thoughtworks.go.plugin.api.annotation.Load;
import com.thoughtworks.go.plugin.api.annotation.UnLoad;
import com.thoughtworks.go.plugin.api.info.PluginContext;
import com.thoughtworks.go.plugin.api.logging.Logger;
import com.thoughtworks.go.plugin.api.request.GoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.DefaultGoPluginApiResponse;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** The GoCD notification plugin. Every request goes to the Rust core, so this class only adapts types. */
@Extension
public class HeraldPlugin implements GoPlugin {
    static final String PLUGIN_ID = "herald.notifier";
    static final String EXTENSION = "notification";
    static final List<String> API_VERSIONS = Collections.unmodifiableList(Arrays.asList("1.0", "2.0", "3.0", "4.0"));

    private static final Logger LOGGER = Logger.getLoggerFor(HeraldPlugin.class);

    private final GoPluginIdentifier identifier = new GoPluginIdentifier(EXTENSION, API_VERSIONS);
    private final ServerState serverState = new ServerState(identifier);

    /** Loads the native library and starts the core. A failure is logged, and each request then returns a failure response naming it. */
    @Load
    public void onLoad(PluginContext context) {
        try {
            NativeBridge.ensureLoaded();
            NativeBridge.start(NativeLog.configuredLevel());
            LOGGER.info("Herald " + BuildInfo.version() + " loaded");
        } catch (Throwable e) {
            LOGGER.error("Herald could not start, so every request will get a failure response", e);
        }
    }

    /** Stops the core's threads and log forwarding, so the unloaded plugin leaves nothing running. */
    @UnLoad
    public void onUnload(PluginContext context) {
        if (!NativeBridge.isLoaded()) {
            return;
        }
        try {
            NativeBridge.stop();
        } catch (Throwable e) {
            LOGGER.error("Herald could not stop cleanly", e);
        }
    }

    @Override
    public void initializeGoApplicationAccessor(GoApplicationAccessor accessor) {
        serverState.setAccessor(accessor);
    }

    @Override
    public GoPluginIdentifier pluginIdentifier() {
        return identifier;
    }

    /** Forwards the request to the core. Catches every Throwable and turns it into a 500 failure response and a log line. */
    @Override
    public GoPluginApiResponse handle(GoPluginApiRequest request) {
        try {
            return forward(request);
        } catch (Throwable e) {
            return failureFor(request, e);
        }
    }

    private GoPluginApiResponse forward(GoPluginApiRequest request) {
        String requestName = request.requestName();
        String apiVersion = request.extensionVersion();
        if (requestName == null || apiVersion == null) {
            return FailureResponse.of("Herald received a request without " + (requestName == null ? "a name" : "an extension version"));
        }
        NativeBridge.ensureLoaded();
        serverState.refreshBefore(requestName, apiVersion);

        String body = request.requestBody();
        byte[] bodyBytes = body == null ? null : body.getBytes(StandardCharsets.UTF_8);
        int[] code = new int[1];
        byte[] responseBody = NativeBridge.handle(requestName, apiVersion, bodyBytes, code);

        serverState.noteHandled(requestName, apiVersion);
        return new DefaultGoPluginApiResponse(code[0], new String(responseBody, StandardCharsets.UTF_8));
    }

    private static GoPluginApiResponse failureFor(GoPluginApiRequest request, Throwable failure) {
        try {
            String requestName = request == null ? null : request.requestName();
            LOGGER.error("Herald failed on request " + requestName, failure);
            return FailureResponse.of("Herald failed on request " + requestName + ": " + failure + "; see the plugin log");
        } catch (Throwable secondFailure) {
            return FailureResponse.constant();
        }
    }
}
