package io.herald.gocd.jmh;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import io.herald.gocd.fakehost.LoadedPlugin;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.util.Map;

/**
 * Prints the resident set size of this JVM before and after loading the plugin and every tenth
 * of the way through a series of stage-status notifications (API 4.0, 2 KB body, no
 * destinations, distinct pipeline counters). Run with a fixed, pre-touched heap, so that the heap
 * is resident from the start and any growth comes from elsewhere.
 *
 * <p>Argument: the number of notifications.
 */
public final class MemoryGrowth {
    private static final String COUNTER_FIELD = "\"counter\":\"1187\"";

    private MemoryGrowth() {
    }

    public static void main(String[] args) throws Exception {
        int notifications = Integer.parseInt(args[0]);
        String template = Harness.benchBody("api-4.0-2k");
        PrintStream report = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        Harness.discardStdout();

        long beforeLoad = Harness.residentKib();
        try (LoadedPlugin plugin = Harness.loadPlugin(Map.of())) {
            long afterLoad = Harness.residentKib();
            report.printf("RSS before loading the plugin: %,d KiB%n", beforeLoad);
            report.printf("RSS after loading the plugin:  %,d KiB (+%,d KiB)%n", afterLoad, afterLoad - beforeLoad);

            int step = Math.max(1, notifications / 10);
            long firstSample = 0;
            for (int i = 1; i <= notifications; i++) {
                String body = template.replace(COUNTER_FIELD, "\"counter\":\"" + i + "\"");
                GoPluginApiResponse response = plugin.send("stage-status", body);
                if (response.responseCode() != 200) {
                    throw new IllegalStateException("notification " + i + " failed: " + response.responseBody());
                }
                if (i % step == 0) {
                    long rss = Harness.residentKib();
                    if (firstSample == 0) {
                        firstSample = rss;
                    }
                    report.printf("RSS after %,9d notifications: %,d KiB (%+,d KiB since the first sample)%n", i, rss, rss - firstSample);
                }
            }
        }
        report.printf("java %s, max heap %,d MiB%n", System.getProperty("java.version"), Runtime.getRuntime().maxMemory() >> 20);
    }
}
