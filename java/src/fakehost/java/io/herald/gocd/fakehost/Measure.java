package io.herald.gocd.fakehost;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;

/**
 * Prints three figures for the built jar. The first is its size. The second is the time from the
 * plugin's System.load call to its first response, with the time from the start of loading the jar
 * for context. The third is the median time of one stage-status call for the API 4.0 fixture
 * through the plugin and JNI.
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
        long jarLoadStart = System.nanoTime();
        long firstResponseAt;
        long systemLoadAt;
        long[] samples = new long[MEASURED_CALLS];
        String lastResponse;
        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            plugin.send("notifications-interested-in", null);
            firstResponseAt = System.nanoTime();
            systemLoadAt = lastSystemLoad(plugin.classLoader());

            for (int i = 0; i < WARMUP_CALLS; i++) {
                plugin.send("stage-status", body);
            }
            GoPluginApiResponse response = null;
            for (int i = 0; i < MEASURED_CALLS; i++) {
                long start = System.nanoTime();
                response = plugin.send("stage-status", body);
                samples[i] = System.nanoTime() - start;
            }
            lastResponse = response.responseCode() + " " + response.responseBody();
        } finally {
            System.setOut(stdout);
        }

        Arrays.sort(samples);
        System.out.printf("jar: %s, %d bytes%n", jar.getFileName(), Files.size(jar));
        System.out.printf("System.load to first response (version check, start, first request): %.1f ms%n", (firstResponseAt - systemLoadAt) / 1e6);
        System.out.printf("start of loading the jar (unpack, classloader, extract library) to first response: %.1f ms%n",
                (firstResponseAt - jarLoadStart) / 1e6);
        System.out.printf("stage-status, API 4.0 fixture, through JNI: median %.1f us, p90 %.1f us over %d calls (after %d warm-up calls)%n",
                samples[MEASURED_CALLS / 2] / 1e3, samples[MEASURED_CALLS * 9 / 10] / 1e3, MEASURED_CALLS, WARMUP_CALLS);
        System.out.println("last response: " + lastResponse);
        System.out.printf("java %s on %s %s, %d processors%n", System.getProperty("java.version"),
                System.getProperty("os.name"), System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors());
    }

    /** Reads the moment the plugin's native loader called System.load, recorded inside the plugin. */
    private static long lastSystemLoad(ClassLoader pluginClassLoader) throws ReflectiveOperationException {
        Field field = Class.forName("io.herald.gocd.NativeLoader", true, pluginClassLoader).getDeclaredField("lastLoadStartNanos");
        field.setAccessible(true);
        return field.getLong(null);
    }
}
