package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.sun.net.httpserver.HttpServer;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import io.herald.gocd.fakehost.FakeGoServer;
import io.herald.gocd.fakehost.LoadedPlugin;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.Test;

/**
 * A settings change that removes the only destination stops its sender thread while the plugin
 * stays loaded, as happens when an admin edits the settings. The plugin must keep handling
 * notifications afterwards. The build runs this class in a JVM of its own, because the sender
 * thread's end could crash the JVM when its JNI detach logged through the bridge logger.
 */
public class SenderStopBatteryTest {
    @Test
    public void removingDestinationKeepsServing() throws Exception {
        Path jar = Paths.get(System.getProperty("herald.plugin.jar"));
        String body = Fixtures.read("stage-status/api-4.0-passed.json");
        CountDownLatch delivered = new CountDownLatch(1);
        HttpServer receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        receiver.createContext("/events", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                in.readAllBytes();
            }
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
            delivered.countDown();
        });
        receiver.start();

        Path queue = Files.createTempDirectory("herald-sender-stop-queue-");
        FakeGoServer server = new FakeGoServer();
        server.setPluginSettings(Map.of(
                "delivery_destinations", "receiver webhook http://127.0.0.1:" + receiver.getAddress().getPort() + "/events",
                "delivery_rules", "on=all -> receiver",
                "delivery_queue_dir", queue.toString()));
        try (LoadedPlugin plugin = LoadedPlugin.load(jar, server)) {
            assertSuccess(plugin.send("stage-status", body));
            // A hang guard, not a time assertion: the delivery reaches the loopback receiver at once.
            assertTrue("the receiver got no delivery", delivered.await(60, TimeUnit.SECONDS));

            server.setPluginSettings(Map.of("delivery_queue_dir", queue.toString()));
            GoPluginApiResponse changed = plugin.send("go.plugin-settings.plugin-settings-changed", "{\"delivery_queue_dir\":\"" + queue + "\"}");
            assertEquals(changed.responseBody(), 200, changed.responseCode());

            for (int i = 0; i < 3; i++) {
                assertSuccess(plugin.send("stage-status", body));
            }
        } finally {
            receiver.stop(0);
        }
    }

    private static void assertSuccess(GoPluginApiResponse response) {
        assertEquals(response.responseBody(), 200, response.responseCode());
        assertTrue(response.responseBody(), response.responseBody().contains("\"success\""));
    }
}
