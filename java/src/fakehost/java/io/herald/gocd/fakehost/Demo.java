package io.herald.gocd.fakehost;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

/**
 * Loads the built plugin jar in a fake GoCD host and sends it what a server sends after an admin
 * saves the settings and two stages finish, printing every request, response and event line.
 *
 * <p>Arguments: the plugin jar, the tests/fixtures folder.
 */
public final class Demo {
    private Demo() {
    }

    public static void main(String[] args) throws Exception {
        Path jar = Paths.get(args[0]);
        Path fixtures = Paths.get(args[1]);
        Path eventLog = Files.createTempFile("herald-demo-events-", ".jsonl");

        FakeGoServer server = new FakeGoServer();
        server.setPluginSettings(Map.of("event_log_path", eventLog.toString()));

        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            System.out.println("== loaded " + plugin.descriptor.id + " " + plugin.descriptor.version + " from " + jar
                    + ", notification API " + plugin.apiVersion + " negotiated");

            exchange(plugin, "go.plugin-settings.get-configuration", null);
            exchange(plugin, "go.plugin-settings.get-view", null);
            exchange(plugin, "go.plugin-settings.validate-configuration",
                    "{\"plugin-settings\":{\"event_log_path\":{\"value\":" + Json.quote(eventLog.toString()) + "}}}");
            exchange(plugin, "go.plugin-settings.plugin-settings-changed", Json.object(Map.of("event_log_path", eventLog.toString())));
            exchange(plugin, "notifications-interested-in", null);
            exchange(plugin, "stage-status", read(fixtures.resolve("stage-status/flat-example.json")));
            exchange(plugin, "stage-status", read(fixtures.resolve("stage-status/api-4.0-passed.json")));

            System.out.println("== processor requests the plugin made: " + server.requestsReceived());
            List<String> lines = Files.readAllLines(eventLog, StandardCharsets.UTF_8);
            System.out.println("== " + lines.size() + " event line(s) written to " + eventLog + ":");
            lines.forEach(System.out::println);
        } finally {
            Files.deleteIfExists(eventLog);
        }
    }

    private static void exchange(LoadedPlugin plugin, String requestName, String body) {
        System.out.println();
        System.out.println(">> " + requestName + " (API " + plugin.apiVersion + ")" + (body == null ? ", no body" : ""));
        if (body != null) {
            System.out.println(body.trim());
        }
        GoPluginApiResponse response = plugin.send(requestName, body);
        System.out.println("<< " + response.responseCode());
        System.out.println(response.responseBody());
    }

    static String read(Path file) throws java.io.IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    }
}
