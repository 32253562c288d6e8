package io.herald.gocd.fakehost;

import com.thoughtworks.go.plugin.api.GoApplicationAccessor;
import com.thoughtworks.go.plugin.api.request.GoApiRequest;
import com.thoughtworks.go.plugin.api.response.DefaultGoApiResponse;
import com.thoughtworks.go.plugin.api.response.GoApiResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The server side of {@link GoApplicationAccessor}: responds to the processor requests a notification
 * plugin makes, from a settings map the test or demo controls.
 */
public final class FakeGoServer extends GoApplicationAccessor {
    public static final String SITE_URL = "http://127.0.0.1:8153";
    public static final String SECURE_SITE_URL = "https://127.0.0.1:8154";

    private Map<String, String> pluginSettings;
    private final List<String> requestsReceived = new ArrayList<>();

    /** Sets the stored plugin settings; null means never saved, as on a fresh server. */
    public synchronized void setPluginSettings(Map<String, String> settings) {
        this.pluginSettings = settings == null ? null : new LinkedHashMap<>(settings);
    }

    /** Returns the names of the processor requests received so far, in order. */
    public synchronized List<String> requestsReceived() {
        return new ArrayList<>(requestsReceived);
    }

    @Override
    public synchronized GoApiResponse submit(GoApiRequest request) {
        requestsReceived.add(request.api());
        switch (request.api()) {
            case "go.processor.plugin-settings.get":
                return pluginSettingsFor(request.requestBody());
            case "go.processor.server-info.get":
                return ok("{\"server_id\":\"fake-server\",\"site_url\":" + Json.quote(SITE_URL)
                        + ",\"secure_site_url\":" + Json.quote(SECURE_SITE_URL) + "}");
            default:
                DefaultGoApiResponse response = new DefaultGoApiResponse(400);
                response.setResponseBody("unknown processor request " + request.api());
                return response;
        }
    }

    private GoApiResponse pluginSettingsFor(String requestBody) {
        if (requestBody == null || !requestBody.replace(" ", "").contains("\"plugin-id\":\"herald.notifier\"")) {
            DefaultGoApiResponse response = new DefaultGoApiResponse(400);
            response.setResponseBody("expected {\"plugin-id\": \"herald.notifier\"}, got " + requestBody);
            return response;
        }
        // GoCD responds with a null body when the settings were never saved.
        return ok(pluginSettings == null ? null : Json.object(pluginSettings));
    }

    private static GoApiResponse ok(String body) {
        DefaultGoApiResponse response = new DefaultGoApiResponse(200);
        response.setResponseBody(body);
        return response;
    }
}
