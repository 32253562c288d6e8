package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import io.herald.gocd.fakehost.FakeGoServer;
import io.herald.gocd.fakehost.LoadedPlugin;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.Test;

/**
 * 16 threads send every request kind of the shared cases to the plugin jar loaded by the fake
 * host, for herald.battery.seconds seconds (60 by default). Every response must equal the response
 * to the same request sent from one thread, and the event log must hold one complete line per
 * accepted notification.
 */
public class ConcurrencyBatteryTest {
    private static final int THREADS = 16;
    /** The settings-changed cases would switch the event log off, so the run sends the stored settings instead. */
    private static final String CHANGED = "go.plugin-settings.plugin-settings-changed";

    /** One request of the run and the response it got from a single thread. */
    private static final class Exchange {
        final String name;
        final String request;
        final String apiVersion;
        final String body;
        final String expected;
        final boolean writesEventLine;

        Exchange(String name, String request, String apiVersion, String body, String expected) {
            this.name = name;
            this.request = request;
            this.apiVersion = apiVersion;
            this.body = body;
            this.expected = expected;
            this.writesEventLine = request.endsWith("-status") && expected.contains("\"status\":\"success\"");
        }
    }

    @Test
    public void sixteenThreadsMatchSingleThread() throws Exception {
        long seconds = Long.parseLong(System.getProperty("herald.battery.seconds", "60"));
        Path eventLog = Files.createTempFile("herald-concurrency-events-", ".jsonl");
        Path queue = Files.createTempDirectory("herald-concurrency-queue-");
        Map<String, String> settings = Map.of("event_log_path", eventLog.toString(), "delivery_queue_dir", queue.toString());
        FakeGoServer server = new FakeGoServer();
        server.setPluginSettings(settings);
        Path jar = Paths.get(System.getProperty("herald.plugin.jar"));

        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            List<Exchange> exchanges = referenceAnswers(plugin, settings);
            long singleThreadLines = exchanges.stream().filter(exchange -> exchange.writesEventLine).count();
            assertEquals(singleThreadLines, lineCount(eventLog));

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int offset = t;
                Callable<long[]> caller = () -> {
                    start.await();
                    long calls = 0;
                    long lines = 0;
                    for (int i = offset; System.nanoTime() < deadline; i++) {
                        Exchange exchange = exchanges.get(i % exchanges.size());
                        String actual = codeAndBody(plugin.send(exchange.request, exchange.apiVersion, exchange.body));
                        assertEquals(exchange.name, exchange.expected, actual);
                        calls++;
                        lines += exchange.writesEventLine ? 1 : 0;
                    }
                    return new long[] {calls, lines};
                };
                results.add(pool.submit(caller));
            }
            start.countDown();
            pool.shutdown();
            // A hang guard, not a time assertion: a deadlock leaves the pool running past it.
            if (!pool.awaitTermination(seconds + 300, TimeUnit.SECONDS)) {
                throw new AssertionError("the 16 callers did not finish; thread dump:\n" + threadDump());
            }

            long calls = 0;
            long expectedLines = singleThreadLines;
            for (Future<long[]> result : results) {
                long[] counts = result.get();
                calls += counts[0];
                expectedLines += counts[1];
            }
            System.out.printf("concurrency battery: %d threads, %d s, %d calls, %d event lines%n", THREADS, seconds, calls, expectedLines);

            List<String> lines = Files.readAllLines(eventLog, StandardCharsets.UTF_8);
            assertEquals(expectedLines, lines.size());
            for (String line : lines) {
                assertTrue(line, JsonParser.parseString(line).isJsonObject());
            }
        } finally {
            Files.deleteIfExists(eventLog);
        }
    }

    private static List<Exchange> referenceAnswers(LoadedPlugin plugin, Map<String, String> settings) throws Exception {
        List<Exchange> exchanges = new ArrayList<>();
        for (Fixtures.Case testCase : Fixtures.cases()) {
            if (testCase.request.equals(CHANGED)) {
                continue;
            }
            String body = testCase.bodyFile == null ? null : Fixtures.read(testCase.bodyFile);
            // Bodies that are not valid UTF-8 cannot travel as a GoCD String; the byte path has its own tests.
            if (testCase.bodyFile != null && !Arrays.equals(Fixtures.readBytes(testCase.bodyFile), body.getBytes(StandardCharsets.UTF_8))) {
                continue;
            }
            String actual = codeAndBody(plugin.send(testCase.request, testCase.apiVersion, body));
            exchanges.add(new Exchange(testCase.name, testCase.request, testCase.apiVersion, body, actual));
        }

        JsonObject changed = new JsonObject();
        settings.forEach(changed::addProperty);
        String actual = codeAndBody(plugin.send(CHANGED, "4.0", changed.toString()));
        assertEquals("200 {}", actual);
        exchanges.add(new Exchange("settings changed to the stored values", CHANGED, "4.0", changed.toString(), actual));
        return exchanges;
    }

    private static String codeAndBody(GoPluginApiResponse response) {
        return response.responseCode() + " " + response.responseBody();
    }

    private static long lineCount(Path file) throws java.io.IOException {
        return Files.readAllLines(file, StandardCharsets.UTF_8).size();
    }

    private static String threadDump() {
        StringBuilder dump = new StringBuilder();
        long[] deadlocked = ManagementFactory.getThreadMXBean().findDeadlockedThreads();
        dump.append("deadlocked threads: ").append(deadlocked == null ? "none" : deadlocked.length).append('\n');
        for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
            dump.append(info);
        }
        return dump.toString();
    }

    @Test
    public void fixturesHaveEveryRequestKind() throws Exception {
        List<String> kinds = new ArrayList<>();
        for (Fixtures.Case testCase : Fixtures.cases()) {
            kinds.add(testCase.request);
        }
        for (String kind : new String[] {"notifications-interested-in", "stage-status", "agent-status",
            "go.plugin-settings.get-configuration", "go.plugin-settings.get-view", "go.plugin-settings.validate-configuration"}) {
            assertTrue(kind, kinds.contains(kind));
        }
    }
}
