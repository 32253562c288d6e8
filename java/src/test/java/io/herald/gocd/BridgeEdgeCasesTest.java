package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.thoughtworks.go.plugin.api.request.DefaultGoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.BeforeClass;
import org.junit.Test;

/** Null arguments, huge and malformed bodies, and concurrent calls through the JNI bridge. */
public class BridgeEdgeCasesTest {
    private static final String FLAT_EXAMPLE = "{\"pipeline-name\": \"%s\", \"pipeline-counter\": 1, \"stage-name\": \"compile\","
            + " \"stage-counter\": \"1\", \"stage-state\": \"Passed\", \"stage-result\": \"Passed\","
            + " \"create-time\": \"2011-07-14T19:43:37.100Z\"}";

    private final HeraldPlugin plugin = new HeraldPlugin();

    @BeforeClass
    public static void loadLibrary() {
        NativeBridge.ensureLoaded();
    }

    @Test
    public void nullStageStatusBodyFails() {
        JsonObject answer = answerOf(plugin.handle(request("stage-status", "4.0", null)));

        assertEquals("failure", answer.get("status").getAsString());
        assertTrue(answer.toString(), answer.getAsJsonArray("messages").size() > 0);
    }

    @Test
    public void nullBodyReachesNativeAsNull() {
        int[] code = new int[1];
        byte[] answer = NativeBridge.handle("notifications-interested-in", "4.0", null, code);

        assertEquals(200, code[0]);
        assertNotNull(JsonParser.parseString(new String(answer, StandardCharsets.UTF_8)).getAsJsonObject().get("notifications"));
    }

    @Test
    public void nullRequestNameRaisesInBridge() {
        try {
            NativeBridge.handle(null, "4.0", null, new int[1]);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("requestName"));
        }
    }

    @Test
    public void nullCodeArrayRaisesInBridge() {
        try {
            NativeBridge.handle("stage-status", "4.0", null, null);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("codeOut"));
        }
    }

    @Test
    public void nullRequestNameFailsInPlugin() {
        GoPluginApiResponse response = plugin.handle(request(null, "4.0", null));

        assertEquals(500, response.responseCode());
        assertEquals("failure", answerOf(response).get("status").getAsString());
    }

    @Test
    public void nullSettingsMeanDefaults() {
        assertNull(NativeBridge.applyPluginSettings(null));
    }

    @Test
    public void serverInfoIsAccepted() {
        String body = "{\"server_id\":\"s\",\"site_url\":\"http://127.0.0.1:8153/go\",\"secure_site_url\":null}";

        assertNull(NativeBridge.applyServerInfo(body.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    public void malformedSettingsAreRejected() throws Exception {
        String reason = NativeBridge.applyPluginSettings("not json".getBytes(StandardCharsets.UTF_8));
        assertNotNull(reason);

        // Until settings apply again, every notification response reports the rejection.
        int[] code = new int[1];
        String answer = new String(NativeBridge.handle("stage-status", "4.0", Fixtures.readBytes("stage-status/flat-example.json"), code),
                StandardCharsets.UTF_8);
        assertTrue(answer, answer.contains("Herald rejected its saved plugin settings"));
        assertNull(NativeBridge.applyPluginSettings(null));
    }

    @Test
    public void tenMegabyteBodyIsHandled() {
        // Valid JSON padded with 10 MiB of whitespace, so the expected status is success.
        char[] padding = new char[10 * 1024 * 1024];
        Arrays.fill(padding, ' ');
        String body = String.format(FLAT_EXAMPLE, "build").replace(", \"pipeline-counter\"", "," + new String(padding) + "\"pipeline-counter\"");
        assertTrue(body.length() > 10 * 1024 * 1024);

        GoPluginApiResponse response = plugin.handle(request("stage-status", "4.0", body));

        assertEquals(response.responseBody(), 200, response.responseCode());
        assertEquals("success", answerOf(response).get("status").getAsString());
    }

    @Test
    public void tenMegabyteGarbageIsRejected() {
        char[] garbage = new char[10 * 1024 * 1024];
        Arrays.fill(garbage, '{');

        GoPluginApiResponse response = plugin.handle(request("stage-status", "4.0", new String(garbage)));

        assertEquals("failure", answerOf(response).get("status").getAsString());
    }

    @Test
    public void loneSurrogatesGetWellFormedAnswer() {
        // A raw lone surrogate turns into '?' on the way to UTF-8, and an escaped one is left for
        // the JSON parser to judge. Either way the response must be well-formed JSON.
        String[] bodies = {
            String.format(FLAT_EXAMPLE, "high\uD800only"),
            String.format(FLAT_EXAMPLE, "low\uDC00only"),
            String.format(FLAT_EXAMPLE, "escaped\\uD800only"),
        };
        for (String body : bodies) {
            GoPluginApiResponse response = plugin.handle(request("stage-status", "4.0", body));

            String status = answerOf(response).get("status").getAsString();
            assertTrue(body + " -> " + status, status.equals("success") || status.equals("failure"));
        }
    }

    @Test
    public void loneSurrogateInRequestNameIsNamed() {
        GoPluginApiResponse response = plugin.handle(request("stage\uD800status", "4.0", "{}"));

        assertEquals("failure", answerOf(response).get("status").getAsString());
    }

    @Test
    public void eightThreadsGetIdenticalAnswers() throws Exception {
        String body = Fixtures.read("stage-status/api-4.0-passed.json");
        GoPluginApiResponse reference = plugin.handle(request("stage-status", "4.0", body));
        String expected = reference.responseCode() + " " + reference.responseBody();

        int threads = 8;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<String>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Callable<List<String>> caller = () -> {
                    start.await();
                    List<String> answers = new ArrayList<>();
                    for (int i = 0; i < 50; i++) {
                        GoPluginApiResponse response = plugin.handle(request("stage-status", "4.0", body));
                        answers.add(response.responseCode() + " " + response.responseBody());
                    }
                    return answers;
                };
                results.add(pool.submit(caller));
            }
            start.countDown();

            for (Future<List<String>> result : results) {
                for (String answer : result.get()) {
                    assertEquals(expected, answer);
                }
            }
        } finally {
            pool.shutdown();
            pool.awaitTermination(1, TimeUnit.MINUTES);
        }
    }

    private static DefaultGoPluginApiRequest request(String name, String version, String body) {
        DefaultGoPluginApiRequest request = new DefaultGoPluginApiRequest("notification", version, name);
        request.setRequestBody(body);
        return request;
    }

    private static JsonObject answerOf(GoPluginApiResponse response) {
        assertNotNull("null answer body", response.responseBody());
        return JsonParser.parseString(response.responseBody()).getAsJsonObject();
    }
}
