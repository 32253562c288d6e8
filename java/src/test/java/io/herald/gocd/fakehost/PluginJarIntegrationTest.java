package io.herald.gocd.fakehost;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * Loads the built plugin jar the way GoCD does, talks to it, unloads it, and does so three times
 * in one JVM, each time in a fresh classloader.
 */
public class PluginJarIntegrationTest {
    /** GoCD's system property for this plugin's log level; the jar's classes are not on this class path. */
    private static final String LOG_LEVEL_PROPERTY = "plugin.herald.notifier.log.level";

    private Path jar;
    private Path fixtures;
    private Path eventLogDir;

    @Before
    public void setUp() throws IOException {
        String jarPath = System.getProperty("herald.plugin.jar");
        assertNotNull("system property herald.plugin.jar is not set; run the tests through Gradle", jarPath);
        jar = Paths.get(jarPath);
        fixtures = Paths.get(System.getProperty("herald.fixtures"));
        eventLogDir = Files.createTempDirectory("herald-integration-");
    }

    @After
    public void tearDown() throws IOException {
        try (Stream<Path> files = Files.list(eventLogDir)) {
            for (Path file : files.collect(Collectors.toList())) {
                Files.delete(file);
            }
        }
        Files.delete(eventLogDir);
    }

    @Test
    public void jarHoldsOnlyPluginFiles() throws IOException {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            List<String> names = zip.stream().map(entry -> entry.getName()).collect(Collectors.toList());

            assertTrue(names.toString(), names.contains("plugin.xml"));
            assertTrue(names.toString(), names.contains("io/herald/gocd/HeraldPlugin.class"));
            assertTrue(names.toString(), names.contains("native/linux-x86_64/libherald.so"));
            for (String name : names) {
                assertFalse("plugin API class bundled: " + name, name.startsWith("com/thoughtworks/"));
                assertTrue("unexpected entry " + name, name.startsWith("META-INF/") || name.startsWith("io/herald/gocd/")
                        || name.startsWith("native/") || name.equals("io/") || name.equals("io/herald/") || name.equals("plugin.xml"));
            }
        }
    }

    @Test
    public void loadsAnswersAndUnloadsThreeTimes() throws Exception {
        Set<Thread> threadsBefore = Thread.getAllStackTraces().keySet();

        for (int round = 1; round <= 3; round++) {
            Path eventLog = eventLogDir.resolve("events-" + round + ".jsonl");
            FakeGoServer server = new FakeGoServer();
            server.setPluginSettings(Map.of("event_log_path", eventLog.toString()));

            ClassLoader pluginClassLoader;
            try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
                pluginClassLoader = plugin.classLoader();
                checkDescriptor(plugin);
                assertEquals("round " + round, "4.0", plugin.apiVersion);

                checkSettingsRequests(plugin, eventLog);
                checkNotifications(plugin, eventLog);

                assertTrue(server.requestsReceived().toString(), server.requestsReceived().contains("go.processor.plugin-settings.get"));
                assertTrue(server.requestsReceived().toString(), server.requestsReceived().contains("go.processor.server-info.get"));
            }

            assertNoThreadLeft(threadsBefore, pluginClassLoader, round);
        }
    }

    @Test
    public void rustLogReachesPluginLogger() throws Exception {
        String validBody = Demo.read(fixtures.resolve("stage-status/api-4.0-passed.json"));
        System.setProperty(LOG_LEVEL_PROPERTY, "DEBUG");
        String output;
        try {
            output = pluginOutput(plugin -> plugin.send("stage-status", validBody));
        } finally {
            System.clearProperty(LOG_LEVEL_PROPERTY);
        }

        assertTrue(output, output.contains("herald::plugin"));
        assertTrue(output, output.contains("déploiement"));
    }

    @Test
    public void defaultLogLevelKeepsDebugRecordsNative() throws Exception {
        String validBody = Demo.read(fixtures.resolve("stage-status/api-4.0-passed.json"));
        String output = pluginOutput(plugin -> {
            plugin.send("stage-status", validBody);
            plugin.send("déploiement-request", "{}");
        });

        assertFalse("the per-notification debug line stays native at info level: " + output,
                output.contains("stage-status: pipeline"));
        assertTrue("the warning for an unsupported request is forwarded: " + output,
                output.contains("unsupported request \"déploiement-request\""));
    }

    private interface PluginUse {
        void run(LoadedPlugin plugin) throws Exception;
    }

    /** Loads the jar, runs {@code use}, and returns what the plugin API's Logger printed meanwhile. */
    private String pluginOutput(PluginUse use) throws Exception {
        // Outside GoCD the plugin API's Logger has no logging service: it prints debug and info
        // records to System.out, warnings and errors to System.err.
        PrintStream stdout = System.out;
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (LoadedPlugin plugin = LoadedPlugin.load(jar, new FakeGoServer())) {
            PrintStream capture = new PrintStream(captured, true, "UTF-8");
            System.setOut(capture);
            System.setErr(capture);
            use.run(plugin);
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
        return captured.toString("UTF-8");
    }

    @Test
    public void negotiatesHighestCommonVersion() throws Exception {
        try (LoadedPlugin plugin = LoadedPlugin.load(jar, new FakeGoServer(), Arrays.asList("1.0", "2.0"))) {
            assertEquals("2.0", plugin.apiVersion);

            JsonObject answer = answer(plugin.send("stage-status", Demo.read(fixtures.resolve("stage-status/flat-example.json"))));
            assertEquals(answer.toString(), "success", answer.get("status").getAsString());
        }
    }

    @Test
    public void neverSavedSettingsMeanDefaults() throws Exception {
        FakeGoServer server = new FakeGoServer();
        server.setPluginSettings(null);

        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            JsonObject answer = answer(plugin.send("stage-status", Demo.read(fixtures.resolve("stage-status/flat-example.json"))));

            assertEquals(answer.toString(), "success", answer.get("status").getAsString());
            assertTrue(server.requestsReceived().toString(), server.requestsReceived().contains("go.processor.plugin-settings.get"));
        }
        try (Stream<Path> files = Files.list(eventLogDir)) {
            assertEquals("no event log is written without settings", 0, files.count());
        }
    }

    private static void checkDescriptor(LoadedPlugin plugin) {
        assertEquals("herald.notifier", plugin.descriptor.id);
        assertEquals("Herald", plugin.descriptor.name);
        assertEquals(Collections.singletonList("Linux"), plugin.descriptor.targetOperatingSystems);
        assertNotNull(plugin.descriptor.version);
    }

    private static void checkSettingsRequests(LoadedPlugin plugin, Path eventLog) {
        GoPluginApiResponse configuration = plugin.send("go.plugin-settings.get-configuration", null);
        assertEquals(200, configuration.responseCode());
        assertTrue(configuration.responseBody(), JsonParser.parseString(configuration.responseBody()).getAsJsonObject().has("event_log_path"));

        GoPluginApiResponse view = plugin.send("go.plugin-settings.get-view", null);
        assertEquals(200, view.responseCode());
        assertTrue(view.responseBody(), JsonParser.parseString(view.responseBody()).getAsJsonObject().has("template"));

        String settings = "{\"plugin-settings\":{\"event_log_path\":{\"value\":" + Json.quote(eventLog.toString()) + "}}}";
        GoPluginApiResponse validation = plugin.send("go.plugin-settings.validate-configuration", settings);
        assertEquals(200, validation.responseCode());
        assertEquals(new JsonArray(), JsonParser.parseString(validation.responseBody()));
    }

    private void checkNotifications(LoadedPlugin plugin, Path eventLog) throws IOException {
        JsonObject interest = answer(plugin.send("notifications-interested-in", null));
        assertTrue(interest.toString(), interest.getAsJsonArray("notifications").toString().contains("\"stage-status\""));

        JsonObject flat = answer(plugin.send("stage-status", Demo.read(fixtures.resolve("stage-status/flat-example.json"))));
        assertEquals(flat.toString(), "success", flat.get("status").getAsString());
        JsonObject nested = answer(plugin.send("stage-status", Demo.read(fixtures.resolve("stage-status/api-4.0-passed.json"))));
        assertEquals(nested.toString(), "success", nested.get("status").getAsString());

        List<String> lines = Files.readAllLines(eventLog, StandardCharsets.UTF_8);
        assertEquals(lines.toString(), 2, lines.size());
        for (String line : lines) {
            assertTrue(line, JsonParser.parseString(line).isJsonObject());
        }

        JsonObject unknown = answer(plugin.send("no-such-request", "{}"));
        assertEquals(unknown.toString(), "failure", unknown.get("status").getAsString());
    }

    private static JsonObject answer(GoPluginApiResponse response) {
        assertNotNull("null answer body", response.responseBody());
        return JsonParser.parseString(response.responseBody()).getAsJsonObject();
    }

    /**
     * Fails if a Java thread started since {@code before} is still alive with the plugin's
     * classloader, or if an OS thread of this process carries a name the native side gives its
     * threads (they start with "herald").
     */
    private static void assertNoThreadLeft(Set<Thread> before, ClassLoader pluginClassLoader, int round) throws IOException {
        List<String> leftovers = new ArrayList<>();
        Set<Thread> known = new HashSet<>(before);
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            if (!known.contains(thread) && thread.isAlive() && thread.getContextClassLoader() == pluginClassLoader) {
                leftovers.add("Java thread " + thread.getName());
            }
        }
        Path tasks = Paths.get("/proc/self/task");
        if (Files.isDirectory(tasks)) {
            try (Stream<Path> entries = Files.list(tasks)) {
                for (Path task : entries.collect(Collectors.toList())) {
                    String name = readThreadName(task);
                    if (name.startsWith("herald")) {
                        leftovers.add("OS thread " + name);
                    }
                }
            }
        }
        assertTrue("after unload " + round + ": " + leftovers, leftovers.isEmpty());
    }

    private static String readThreadName(Path task) {
        try {
            return new String(Files.readAllBytes(task.resolve("comm")), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            // The thread ended between listing and reading.
            return "";
        }
    }
}
