package io.herald.gocd.fakehost;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A fake GoCD host run as a child JVM by the kill -9 test: loads the plugin jar with one webhook
 * destination and a queue folder, sends {@code count} stage-status notifications, prints each
 * response, then waits for its standard input to close before it unloads the plugin.
 *
 * <p>Arguments: the plugin jar, the queue folder, the webhook URL, the number of notifications.
 * Output lines: {@code response <code> <body>} per notification, then {@code accepted <count>},
 * and {@code unloaded} after a clean unload.
 */
public final class CrashHost {
    /** Destination name, which appears in the failure messages the plugin returns. */
    public static final String DESTINATION = "crash";
    public static final String PIPELINE = "crash";

    private CrashHost() {
    }

    /** Returns the event id the plugin gives notification {@code number} (1-based). */
    public static String eventId(int number) {
        return PIPELINE + "/" + number + "/compile/1/Passed";
    }

    public static void main(String[] args) throws Exception {
        Path jar = Paths.get(args[0]);
        Path queue = Paths.get(args[1]);
        String webhookUrl = args[2];
        int count = Integer.parseInt(args[3]);

        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("delivery_destinations", DESTINATION + " webhook " + webhookUrl);
        settings.put("delivery_rules", "on=all -> " + DESTINATION);
        settings.put("delivery_queue_dir", queue.toString());
        FakeGoServer server = new FakeGoServer();
        server.setPluginSettings(settings);

        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            GoPluginApiResponse changed = plugin.send("go.plugin-settings.plugin-settings-changed", Json.object(settings));
            System.out.println("settings " + changed.responseCode() + " " + changed.responseBody());

            for (int number = 1; number <= count; number++) {
                GoPluginApiResponse response = plugin.send("stage-status", stageStatus(number));
                System.out.println("response " + response.responseCode() + " " + response.responseBody());
            }
            System.out.println("accepted " + count);
            System.out.flush();

            BufferedReader input = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            while (input.readLine() != null) {
                // Any line is ignored; end of input means unload.
            }
        }
        System.out.println("unloaded");
    }

    /** Builds a flat stage-status body for pipeline run {@code number} of the crash pipeline. */
    private static String stageStatus(int number) {
        return "{\"pipeline-name\": \"" + PIPELINE + "\", \"pipeline-counter\": " + number
                + ", \"stage-name\": \"compile\", \"stage-counter\": \"1\", \"stage-state\": \"Passed\","
                + " \"stage-result\": \"Passed\", \"create-time\": \"2026-12-04T20:00:00.000Z\"}";
    }
}
