package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.thoughtworks.go.plugin.api.GoPlugin;
import io.herald.gocd.fakehost.CrashHost;
import io.herald.gocd.fakehost.Demo;
import io.herald.gocd.fakehost.WebhookReceiver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * Kills a fake GoCD host JVM with SIGKILL while the plugin inside it has accepted notifications
 * that are queued or in flight, starts a second host on the same queue folder, and checks that
 * every accepted event reaches the webhook. {@link Process#destroyForcibly()} sends SIGKILL on
 * Linux, the same signal as {@code kill -9}, and the test checks the exit status 137 (128 + 9).
 */
public class CrashKillTest {
    private static final int NOTIFICATIONS = 20;
    /** Guards against a hanging run; every step normally takes well under a second. */
    private static final long LIMIT_MILLIS = 120_000;
    private static final int SIGKILL_EXIT_STATUS = 128 + 9;

    private Path work;
    private final List<Host> hosts = new ArrayList<>();

    @Before
    public void createWorkFolder() throws IOException {
        work = Files.createTempDirectory("herald-crash-");
    }

    @After
    public void cleanUp() throws IOException {
        for (Host host : hosts) {
            host.process.destroyForcibly();
        }
        try (Stream<Path> paths = Files.walk(work)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.deleteIfExists(path);
            }
        }
    }

    @Test
    public void killWithDeliveryInFlight() throws Exception {
        try (WebhookReceiver receiver = WebhookReceiver.start(WebhookReceiver.Mode.HANG)) {
            Host first = acceptAll(receiver);
            receiver.await("the first delivery attempt, held without a response", LIMIT_MILLIS,
                    requests -> !requests.isEmpty());
            killAndRecover(first, receiver);
        }
    }

    @Test
    public void killWithDestinationFailing() throws Exception {
        try (WebhookReceiver receiver = WebhookReceiver.start(WebhookReceiver.Mode.ERROR)) {
            Host first = acceptAll(receiver);
            receiver.await("a delivery attempt answered with 500", LIMIT_MILLIS,
                    requests -> requests.stream().anyMatch(request -> request.status == 500));
            killAndRecover(first, receiver);
        }
    }

    /**
     * Runs the demo, whose two sender threads end while the plugin unloads, in a child JVM. A
     * thread detaching from the JVM once logged through the Java sink in a loop until the stack
     * overflowed, and the JVM died with SIGSEGV (exit status 139).
     */
    @Test
    public void demoExitsCleanly() throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Path output = work.resolve("demo.out");
        Path temporary = Files.createDirectories(work.resolve("demo-tmp"));
        ProcessBuilder builder = new ProcessBuilder(java, "-Djava.io.tmpdir=" + temporary, "-cp", hostClassPath(),
                Demo.class.getName(), pluginJar(), Fixtures.root().toString());
        builder.environment().put("RUST_LOG", "warn");
        builder.redirectErrorStream(true);
        builder.redirectOutput(output.toFile());
        Process demo = builder.start();

        boolean ended = demo.waitFor(LIMIT_MILLIS, TimeUnit.MILLISECONDS);
        demo.destroyForcibly();
        List<String> lines = Files.readAllLines(output, StandardCharsets.UTF_8);
        String tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        assertTrue("the demo did not end within " + LIMIT_MILLIS + " ms; output ends with\n" + tail, ended);
        assertEquals("exit status of the demo; output ends with\n" + tail, 0, demo.exitValue());
        long verified = lines.stream().filter(line -> line.trim().startsWith("signature verified")).count();
        assertEquals("verified webhook signatures in the demo output", 2, verified);
    }

    /** Starts the first host and checks that it accepted every notification. */
    private Host acceptAll(WebhookReceiver receiver) throws Exception {
        Host first = startHost(receiver, NOTIFICATIONS);
        List<String> output = first.awaitLine("accepted " + NOTIFICATIONS);

        List<String> responses = output.stream().filter(line -> line.startsWith("response ")).collect(Collectors.toList());
        assertEquals("responses of the first host: " + output, NOTIFICATIONS, responses.size());
        for (String line : responses) {
            assertAccepted(line);
        }
        return first;
    }

    /**
     * Kills {@code first}, switches the receiver to respond with 200, starts a second host on the same queue
     * folder; then checks that every accepted event arrives and that duplicates share their id.
     */
    private void killAndRecover(Host first, WebhookReceiver receiver) throws Exception {
        first.process.destroyForcibly();
        assertTrue("the first host did not end after SIGKILL", first.process.waitFor(LIMIT_MILLIS, TimeUnit.MILLISECONDS));
        assertEquals("exit status of the killed host", SIGKILL_EXIT_STATUS, first.process.exitValue());
        receiver.setMode(WebhookReceiver.Mode.OK);

        Set<String> expected = new TreeSet<>();
        for (int number = 1; number <= NOTIFICATIONS; number++) {
            expected.add(CrashHost.eventId(number));
        }
        Host second = startHost(receiver, 0);
        List<WebhookReceiver.Request> requests = receiver.await("every accepted event delivered with status 200", LIMIT_MILLIS,
                received -> deliveredIds(received).containsAll(expected));

        for (WebhookReceiver.Request request : requests) {
            String headerId = request.header(WebhookReceiver.EVENT_ID_HEADER);
            JsonObject body = JsonParser.parseString(request.bodyText()).getAsJsonObject();
            assertEquals("event id header and body of a delivery", body.get("event_id").getAsString(), headerId);
            assertTrue("unexpected event id " + headerId, expected.contains(headerId));
        }
        assertEquals("event ids delivered with 200", expected, deliveredIds(requests));

        second.process.getOutputStream().close();
        List<String> output = second.awaitLine("unloaded");
        assertTrue("the second host did not exit after unloading: " + output,
                second.process.waitFor(LIMIT_MILLIS, TimeUnit.MILLISECONDS));
        assertEquals("exit status of the second host; output " + output + ", errors " + second.errors(),
                0, second.process.exitValue());
    }

    private static Set<String> deliveredIds(List<WebhookReceiver.Request> requests) {
        return requests.stream()
                .filter(request -> request.status == 200)
                .map(request -> request.header(WebhookReceiver.EVENT_ID_HEADER))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * Checks one response line of the first host: 200 and either success or a failure whose every
     * message reports the failing destination, which means the event was still queued.
     */
    private static void assertAccepted(String line) {
        String[] parts = line.split(" ", 3);
        assertEquals("response code in " + line, "200", parts[1]);
        JsonObject body = JsonParser.parseString(parts[2]).getAsJsonObject();
        String status = body.get("status").getAsString();
        if (status.equals("success")) {
            return;
        }
        assertEquals("status in " + line, "failure", status);
        JsonArray messages = body.getAsJsonArray("messages");
        assertTrue("a failure without messages: " + line, messages.size() > 0);
        for (JsonElement message : messages) {
            assertTrue("a message other than the failing destination: " + line,
                    message.getAsString().startsWith("Destination " + CrashHost.DESTINATION + " is failing"));
        }
    }

    private Host startHost(WebhookReceiver receiver, int notifications) throws IOException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        int index = hosts.size() + 1;
        Path errors = work.resolve("host-" + index + ".err");
        // The killed host cannot delete its unpacked plugin bundle, so it unpacks it under the
        // work folder, which the test deletes.
        Path temporary = Files.createDirectories(work.resolve("host-" + index + "-tmp"));
        ProcessBuilder builder = new ProcessBuilder(java,
                "-Djava.io.tmpdir=" + temporary,
                "-cp", hostClassPath(),
                CrashHost.class.getName(),
                pluginJar(), work.resolve("queue").toString(), receiver.url("/hook"), Integer.toString(notifications));
        builder.environment().put("RUST_LOG", "warn");
        builder.redirectError(errors.toFile());
        Host host = new Host(builder.start(), errors);
        hosts.add(host);
        return host;
    }

    /**
     * Returns the class path of the child hosts: the fake host's classes and the plugin API jar.
     * Built from code sources because a Gradle test worker's java.class.path need not list them.
     */
    private static String hostClassPath() throws IOException {
        try {
            return Paths.get(CrashHost.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    + java.io.File.pathSeparator
                    + Paths.get(GoPlugin.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IOException("cannot locate the fake host classes", e);
        }
    }

    private static String pluginJar() {
        String jar = System.getProperty("herald.plugin.jar");
        if (jar == null) {
            throw new IllegalStateException("system property herald.plugin.jar is not set; run the tests through Gradle");
        }
        return jar;
    }

    /** A child JVM running {@link CrashHost}, with its standard output collected line by line. */
    private static final class Host {
        final Process process;
        private final Path errorFile;
        private final List<String> lines = new ArrayList<>();
        private boolean ended;

        Host(Process process, Path errorFile) {
            this.process = process;
            this.errorFile = errorFile;
            Thread reader = new Thread(this::readOutput, "crash-host-output");
            reader.setDaemon(true);
            reader.start();
        }

        private void readOutput() {
            try (BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = output.readLine(); line != null; line = output.readLine()) {
                    synchronized (this) {
                        lines.add(line);
                        notifyAll();
                    }
                }
            } catch (IOException e) {
                // The process was killed; the lines read so far are kept.
            } finally {
                synchronized (this) {
                    ended = true;
                    notifyAll();
                }
            }
        }

        /** Waits until the host prints {@code expected} and returns its output so far. */
        synchronized List<String> awaitLine(String expected) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LIMIT_MILLIS);
            while (!lines.contains(expected)) {
                long remaining = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (ended || remaining <= 0) {
                    fail("the host " + (ended ? "ended" : "did not print it within " + LIMIT_MILLIS + " ms")
                            + " before printing '" + expected + "'; output " + lines + ", errors " + errors());
                }
                wait(Math.max(remaining, 1));
            }
            return new ArrayList<>(lines);
        }

        String errors() {
            try {
                List<String> all = Files.readAllLines(errorFile, StandardCharsets.UTF_8);
                return String.join("\n", all.subList(Math.max(0, all.size() - 20), all.size()));
            } catch (IOException e) {
                return "(cannot read " + errorFile + ": " + e + ")";
            }
        }
    }
}
