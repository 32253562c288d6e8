package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.sun.net.httpserver.HttpServer;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import io.herald.gocd.fakehost.FakeGoServer;
import io.herald.gocd.fakehost.LoadedPlugin;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.Test;

/**
 * The fake host loads, uses and unloads the same jar 100 times in one JVM, with the event log on
 * and no destinations. Every load must handle a notification, no thread of the core may outlive
 * its unload, the resident set size may grow by at most {@link #MAX_GROWTH_PER_RELOAD_KIB} per
 * reload, and at most {@link #MAX_MAPPED_LIBRARY_COPIES} copies of the native library may stay
 * mapped at the end. {@link DeliveryReloadBatteryTest} repeats this with a webhook destination.
 */
public class ReloadBatteryTest {
    private static final int RELOADS = 100;
    private static final int WARMUP_RELOADS = 10;
    /**
     * An unloaded copy of the library that stays mapped keeps about 4 MiB resident after a load
     * that delivered (code and relocated data touched by ureq and rustls), so this bound catches
     * a copy kept at every reload. On x86_64 Linux with OpenJDK 17, runs of the battery measured
     * +124 to +431 KiB per reload with or without a destination, which varies with the JVM's own
     * heap growth, so 2 MiB leaves room for that. The measured figure is printed.
     */
    private static final long MAX_GROWTH_PER_RELOAD_KIB = 2 * 1024;
    /**
     * Copies of the library that may stay mapped at the end. A sender thread spawned straight from
     * a long-lived calling thread kept every copy that delivered mapped. The battery sees zero or
     * one copy after the final garbage collection, and a few more may still wait for the JVM's
     * cleaner thread to unload them.
     */
    private static final int MAX_MAPPED_LIBRARY_COPIES = 5;
    /** Linux thread names (at most 15 characters) of the core's threads start with this. */
    private static final String CORE_THREAD_PREFIX = "herald";

    @Test
    public void hundredReloadsLeaveNothingBehind() throws Exception {
        reloadHundredTimes(false);
    }

    /**
     * Runs the reloads. With {@code withDestination}, the stored settings name a webhook
     * destination on a loopback receiver, so each load starts a sender thread and delivers once.
     */
    static void reloadHundredTimes(boolean withDestination) throws Exception {
        Path jar = Paths.get(System.getProperty("herald.plugin.jar"));
        String body = Fixtures.read("stage-status/api-4.0-passed.json");
        AtomicInteger delivered = new AtomicInteger();
        HttpServer receiver = startReceiver(delivered);
        List<String> threadsBefore = coreThreadNames();

        long rssAfterWarmup = 0;
        try {
            for (int i = 1; i <= RELOADS; i++) {
                Path queue = Files.createTempDirectory("herald-reload-queue-");
                Path eventLog = queue.resolve("events.jsonl");
                Map<String, String> settings = new HashMap<>();
                settings.put("event_log_path", eventLog.toString());
                settings.put("delivery_queue_dir", queue.toString());
                if (withDestination) {
                    settings.put("delivery_destinations", "receiver webhook http://127.0.0.1:" + receiver.getAddress().getPort() + "/events");
                    settings.put("delivery_rules", "on=all -> receiver");
                }
                FakeGoServer server = new FakeGoServer();
                server.setPluginSettings(settings);

                try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
                    GoPluginApiResponse response = plugin.send("stage-status", body);
                    assertEquals("load " + i + ": " + response.responseBody(), 200, response.responseCode());
                    assertTrue("load " + i + ": " + response.responseBody(), response.responseBody().contains("\"success\""));
                }

                assertEquals("threads left after unload " + i, threadsBefore, coreThreadNames());
                assertEquals("event lines after load " + i, 1, Files.readAllLines(eventLog, StandardCharsets.UTF_8).size());
                deleteTree(queue);
                if (i == WARMUP_RELOADS) {
                    rssAfterWarmup = settledResidentKib();
                }
            }
        } finally {
            receiver.stop(0);
        }

        long rssAtEnd = settledResidentKib();
        long growthPerReload = (rssAtEnd - rssAfterWarmup) / (RELOADS - WARMUP_RELOADS);
        System.out.printf("reload battery (%s): %d reloads, RSS %,d KiB after %d, %,d KiB after %d: %+,d KiB per reload;"
                + " %d deliveries received%n", withDestination ? "webhook destination" : "no destination",
                RELOADS, rssAfterWarmup, WARMUP_RELOADS, rssAtEnd, RELOADS, growthPerReload, delivered.get());
        assertTrue("RSS grew by " + growthPerReload + " KiB per reload", growthPerReload <= MAX_GROWTH_PER_RELOAD_KIB);

        int mappedCopies = mappedLibraryCopies();
        System.out.printf("reload battery (%s): %d copies of the native library mapped after %d unloads%n",
                withDestination ? "webhook destination" : "no destination", mappedCopies, RELOADS);
        assertTrue(mappedCopies + " copies of the native library are still mapped after " + RELOADS + " unloads",
                mappedCopies <= MAX_MAPPED_LIBRARY_COPIES);
    }

    /**
     * Counts the distinct files mapped into this process whose name ends like the copies the
     * native loader extracts ({@code herald-<random>-libherald.so}). The copies are deleted while
     * mapped, so the inode tells them apart.
     */
    private static int mappedLibraryCopies() throws IOException {
        String suffix = "-" + System.mapLibraryName("herald");
        java.util.Set<String> inodes = new java.util.HashSet<>();
        for (String line : Files.readAllLines(Paths.get("/proc/self/maps"), StandardCharsets.US_ASCII)) {
            String[] fields = line.trim().split("\\s+", 6);
            if (fields.length < 6) {
                continue;
            }
            String path = fields[5].replace(" (deleted)", "");
            if (path.endsWith(suffix) && path.contains("/herald-")) {
                inodes.add(fields[3] + ":" + fields[4]);
            }
        }
        return inodes.size();
    }

    private static HttpServer startReceiver(AtomicInteger delivered) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/events", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                in.readAllBytes();
            }
            delivered.incrementAndGet();
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        server.start();
        return server;
    }

    /** Returns the sorted names of this process's threads, Java or native, that belong to the core. */
    private static List<String> coreThreadNames() throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Paths.get("/proc/self/task"))) {
            for (Path task : tasks.collect(Collectors.toList())) {
                try {
                    String name = new String(Files.readAllBytes(task.resolve("comm")), StandardCharsets.UTF_8).trim();
                    if (name.startsWith(CORE_THREAD_PREFIX)) {
                        names.add(name);
                    }
                } catch (java.nio.file.NoSuchFileException e) {
                    // The thread ended while the folder was being listed.
                }
            }
        }
        names.sort(null);
        return names;
    }

    /** Collects garbage (so unloaded classloaders and their libraries can go), then reads VmRSS in KiB. */
    private static long settledResidentKib() throws IOException, InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.US_ASCII)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("/proc/self/status has no VmRSS line");
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted((a, b) -> b.compareTo(a)).collect(Collectors.toList())) {
                Files.deleteIfExists(path);
            }
        }
    }
}
