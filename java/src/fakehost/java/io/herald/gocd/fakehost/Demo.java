package io.herald.gocd.fakehost;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Loads the built plugin jar in a fake GoCD host, configures a signed webhook and a chat
 * destination on a local HTTP receiver, sends two stage-status notifications and prints every
 * request, response, event-log line and delivered HTTP request, checking each signature.
 *
 * <p>Arguments: the plugin jar, the tests/fixtures folder. Exits with status 1 when a delivery
 * is missing or a signature does not verify.
 */
public final class Demo {
    private static final String SECRET = "demo-secret";
    /** Only keeps a broken build from hanging the demo; deliveries normally take milliseconds. */
    private static final long DELIVERY_LIMIT_MILLIS = 30_000;

    private Demo() {
    }

    public static void main(String[] args) throws Exception {
        Path jar = Paths.get(args[0]);
        Path fixtures = Paths.get(args[1]);
        Path work = Files.createTempDirectory("herald-demo-");
        Path eventLog = work.resolve("events.jsonl");
        Path queue = work.resolve("queue");

        boolean verified;
        try (WebhookReceiver receiver = WebhookReceiver.start(WebhookReceiver.Mode.OK)) {
            Map<String, String> settings = new LinkedHashMap<>();
            settings.put("event_log_path", eventLog.toString());
            settings.put("delivery_destinations", "audit-hook webhook " + receiver.url("/hooks/audit") + "\n"
                    + "team-chat chat " + receiver.url("/hooks/chat"));
            settings.put("delivery_destination_secrets", "audit-hook=" + SECRET);
            settings.put("delivery_rules", "on=all -> audit-hook, team-chat");
            settings.put("delivery_chat_template", "{title} {headline}\nResult: {result}, triggered by {trigger}");
            settings.put("delivery_queue_dir", queue.toString());

            FakeGoServer server = new FakeGoServer();
            server.setPluginSettings(settings);
            verified = run(jar, fixtures, server, settings, receiver, eventLog);
        } finally {
            deleteTree(work);
        }
        if (!verified) {
            System.exit(1);
        }
    }

    private static boolean run(Path jar, Path fixtures, FakeGoServer server, Map<String, String> settings,
            WebhookReceiver receiver, Path eventLog) throws Exception {
        List<WebhookReceiver.Request> delivered;
        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            System.out.println("== loaded " + plugin.descriptor.id + " " + plugin.descriptor.version + " from " + jar
                    + ", notification API " + plugin.apiVersion + " negotiated");
            System.out.println("== HTTP receiver listening at " + receiver.url("/"));

            exchange(plugin, "go.plugin-settings.get-configuration", null);
            exchange(plugin, "go.plugin-settings.validate-configuration", settingsRequest(settings));
            exchange(plugin, "go.plugin-settings.plugin-settings-changed", Json.object(settings));
            exchange(plugin, "notifications-interested-in", null);
            exchange(plugin, "stage-status", read(fixtures.resolve("stage-status/flat-example.json")));
            exchange(plugin, "stage-status", read(fixtures.resolve("stage-status/api-4.0-passed.json")));

            // Two events, each to two destinations.
            delivered = receiver.await("4 deliveries answered with 200", DELIVERY_LIMIT_MILLIS,
                    requests -> requests.stream().filter(request -> request.status == 200).count() >= 4);

            System.out.println();
            System.out.println("== processor requests the plugin made: " + server.requestsReceived());
            List<String> lines = Files.readAllLines(eventLog, StandardCharsets.UTF_8);
            System.out.println("== " + lines.size() + " event line(s) written to " + eventLog + ":");
            lines.forEach(System.out::println);
        }

        boolean verified = true;
        System.out.println();
        System.out.println("== " + delivered.size() + " HTTP request(s) delivered to the receiver:");
        for (WebhookReceiver.Request request : delivered) {
            System.out.println();
            System.out.println("-> " + request.method + " " + request.path + ", answered " + request.status);
            request.headers.forEach((name, value) -> System.out.println("   " + name + ": " + value));
            System.out.println(request.bodyText());
            if (request.path.endsWith("/audit")) {
                boolean valid = request.signatureValid(SECRET);
                verified &= valid;
                System.out.println(valid
                        ? "   signature verified: HMAC-SHA256 of the body with the destination's secret"
                        : "   SIGNATURE INVALID: the header does not match the HMAC-SHA256 of the body");
            }
        }
        return verified;
    }

    private static String settingsRequest(Map<String, String> settings) {
        Map<String, String> fields = new LinkedHashMap<>();
        settings.forEach((key, value) -> fields.put(key, "{\"value\":" + Json.quote(value) + "}"));
        return "{\"plugin-settings\":{" + fields.entrySet().stream()
                .map(entry -> Json.quote(entry.getKey()) + ":" + entry.getValue())
                .collect(Collectors.joining(",")) + "}}";
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

    static String read(Path file) throws IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.deleteIfExists(path);
            }
        }
    }
}
