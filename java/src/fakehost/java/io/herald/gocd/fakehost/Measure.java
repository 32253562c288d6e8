package io.herald.gocd.fakehost;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;

/**
 * Prints three figures for the built jar: its size, the time from the start of {@code @Load}
 * (which extracts the library, calls System.load and checks its version) to the first answer, and
 * the median time of one stage-status call for the API 4.0 fixture through the plugin and JNI.
 *
 * <p>Arguments: the plugin jar, the tests/fixtures folder. Not a test: the figures depend on the
 * machine, and nothing is asserted about them.
 */
public final class Measure {
    private static final int WARMUP_CALLS = 2_000;
    private static final int MEASURED_CALLS = 5_000;

    private Measure() {
    }

    public static void main(String[] args) throws Exception {
        Path jar = Paths.get(args[0]);
        String body = Demo.read(Paths.get(args[1]).resolve("stage-status/api-4.0-passed.json"));
        FakeGoServer server = new FakeGoServer();

        // Each notification writes a plugin log line, which goes to stdout outside GoCD.
        PrintStream stdout = System.out;
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
        long loadStart = System.nanoTime();
        long firstAnswer;
        long[] samples = new long[MEASURED_CALLS];
        String lastAnswer;
        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            plugin.send("notifications-interested-in", null);
            firstAnswer = System.nanoTime() - loadStart;

            for (int i = 0; i < WARMUP_CALLS; i++) {
                plugin.send("stage-status", body);
            }
            GoPluginApiResponse response = null;
            for (int i = 0; i < MEASURED_CALLS; i++) {
                long start = System.nanoTime();
                response = plugin.send("stage-status", body);
                samples[i] = System.nanoTime() - start;
            }
            lastAnswer = response.responseCode() + " " + response.responseBody();
        } finally {
            System.setOut(stdout);
        }

        Arrays.sort(samples);
        System.out.printf("jar: %s, %d bytes%n", jar.getFileName(), Files.size(jar));
        System.out.printf("start of @Load (extract, System.load, version check) to first answer: %.1f ms%n", firstAnswer / 1e6);
        System.out.printf("stage-status, API 4.0 fixture, through JNI: median %.1f us, p90 %.1f us over %d calls (after %d warm-up calls)%n",
                samples[MEASURED_CALLS / 2] / 1e3, samples[MEASURED_CALLS * 9 / 10] / 1e3, MEASURED_CALLS, WARMUP_CALLS);
        System.out.println("last answer: " + lastAnswer);
        System.out.printf("java %s on %s %s, %d processors%n", System.getProperty("java.version"),
                System.getProperty("os.name"), System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors());
    }
}
