package io.herald.gocd.jmh;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import io.herald.gocd.fakehost.LoadedPlugin;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Prints {@code handle("stage-status")} throughput in events per second on 1 and 4 threads, for
 * the API 4.0 2 KB body with a distinct pipeline counter per event. Two setups: a webhook
 * destination on a loopback receiver with the durable queue in a temporary folder, and no
 * destinations. With a destination it also prints how long the receiver took to get every event.
 *
 * <p>Arguments: the number of events per run without destinations, and with the queue on.
 */
public final class Throughput {
    private static final String BODY = "api-4.0-2k";
    private static final String COUNTER_FIELD = "\"counter\":\"1187\"";

    private Throughput() {
    }

    public static void main(String[] args) throws Exception {
        int events = Integer.parseInt(args[0]);
        int queuedEvents = Integer.parseInt(args[1]);
        String template = Harness.benchBody(BODY);
        if (!template.contains(COUNTER_FIELD)) {
            throw new IllegalStateException(BODY + " no longer contains " + COUNTER_FIELD);
        }
        Harness.discardStdout();
        java.io.PrintStream report = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8");

        long counter = 1_000;
        for (int threads : new int[] {1, 4}) {
            try (LoadedPlugin plugin = Harness.loadPlugin(Map.of())) {
                double rate = run(plugin, template, threads, events, counter);
                counter += events;
                report.printf("no destinations:         %d thread(s), %d events: %,.0f events/s%n", threads, events, rate);
            }
        }
        for (int threads : new int[] {1, 4}) {
            try (LoopbackReceiver receiver = new LoopbackReceiver()) {
                String queue = Files.createTempDirectory("herald-throughput-queue-").toString();
                Map<String, String> settings = Map.of(
                        "delivery_destinations", "receiver webhook " + receiver.url(),
                        "delivery_rules", "on=all -> receiver",
                        "delivery_queue_dir", queue,
                        "delivery_queue_max_events", String.valueOf(4 * queuedEvents));
                try (LoadedPlugin plugin = Harness.loadPlugin(settings)) {
                    long start = System.nanoTime();
                    double rate = run(plugin, template, threads, queuedEvents, counter);
                    counter += queuedEvents;
                    while (receiver.received() < queuedEvents && System.nanoTime() - start < 120_000_000_000L) {
                        Thread.sleep(10);
                    }
                    double drained = (System.nanoTime() - start) / 1e9;
                    report.printf("webhook + durable queue: %d thread(s), %d events: %,.0f events/s accepted;"
                            + " receiver had %d after %.2f s (%,.0f deliveries/s)%n",
                            threads, queuedEvents, rate, receiver.received(), drained, receiver.received() / drained);
                }
            }
        }
        report.printf("java %s, %d processors%n", System.getProperty("java.version"), Runtime.getRuntime().availableProcessors());
    }

    /** Sends {@code events} distinct notifications from {@code threads} threads; returns events per second. */
    private static double run(LoadedPlugin plugin, String template, int threads, int events, long firstCounter) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Integer>> results = new ArrayList<>();
        int perThread = events / threads;
        for (int t = 0; t < threads; t++) {
            long base = firstCounter + (long) t * perThread;
            Callable<Integer> sender = () -> {
                start.await();
                for (int i = 0; i < perThread; i++) {
                    String body = template.replace(COUNTER_FIELD, "\"counter\":\"" + (base + i) + "\"");
                    GoPluginApiResponse response = plugin.send("stage-status", body);
                    if (response.responseCode() != 200 || !response.responseBody().contains("\"success\"")) {
                        throw new IllegalStateException("event " + (base + i) + " failed: " + response.responseBody());
                    }
                }
                return perThread;
            };
            results.add(pool.submit(sender));
        }
        long begin = System.nanoTime();
        start.countDown();
        int sent = 0;
        for (Future<Integer> result : results) {
            sent += result.get();
        }
        double seconds = (System.nanoTime() - begin) / 1e9;
        pool.shutdown();
        return sent / seconds;
    }
}
