package io.herald.gocd.jmh;

import io.herald.gocd.fakehost.FakeGoServer;
import io.herald.gocd.fakehost.LoadedPlugin;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

/** Helpers shared by the benchmarks and harness programs: the built jar, the bodies, the RSS reading. */
final class Harness {
    /** Bodies under tests/fixtures/bench, from the smallest to the largest. */
    static final String[] BODIES = {"flat", "api-4.0-2k", "api-4.0-20k", "api-4.0-200k"};

    private Harness() {
    }

    static Path pluginJar() {
        return Paths.get(requiredProperty("herald.plugin.jar"));
    }

    /** Reads tests/fixtures/bench/{@code name}.json. */
    static String benchBody(String name) throws IOException {
        Path file = Paths.get(requiredProperty("herald.fixtures"), "bench", name + ".json");
        return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    }

    /** Returns the notification API version GoCD would send {@code body} with. */
    static String apiVersionOf(String bodyName) {
        return bodyName.startsWith("api-") ? bodyName.substring(4, 7) : "4.0";
    }

    /**
     * Loads the built jar in the fake GoCD host with {@code settings} as the stored plugin settings.
     * The queue folder goes to a fresh temporary folder unless the settings name one.
     */
    static LoadedPlugin loadPlugin(Map<String, String> settings) throws Exception {
        FakeGoServer server = new FakeGoServer();
        Map<String, String> values = new java.util.LinkedHashMap<>(settings);
        if (!values.containsKey("delivery_queue_dir")) {
            values.put("delivery_queue_dir", Files.createTempDirectory("herald-bench-queue-").toString());
        }
        server.setPluginSettings(values);
        return LoadedPlugin.load(pluginJar(), server, List.of("4.0"));
    }

    /**
     * Sends plugin log lines to nowhere. Without GoCD's logging service the plugin API's Logger
     * prints info records to System.out. At GoCD's default info level the core logs nothing per
     * notification, so this only keeps the load-time lines out of JMH's output.
     */
    static void discardStdout() {
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
    }

    /** Returns VmRSS of this process from /proc/self/status, in KiB. */
    static long residentKib() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.US_ASCII)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("/proc/self/status has no VmRSS line");
    }

    private static String requiredProperty(String name) {
        String value = System.getProperty(name);
        if (value == null) {
            throw new IllegalStateException("system property " + name + " is not set; run through ./gradlew jmh, throughput or memory");
        }
        return value;
    }
}
