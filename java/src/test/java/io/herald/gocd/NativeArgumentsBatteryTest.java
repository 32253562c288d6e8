package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.thoughtworks.go.plugin.api.request.DefaultGoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Hostile arguments to every native method, run under -Xcheck:jni: nulls, empty values, lone
 * surrogates, a 64 MiB body, JSON nested 100 000 levels deep and invalid UTF-8 through the byte
 * path. Each must get a failure response or a Java exception, never a crash. Every test ends by
 * checking that the library still handles a valid notification.
 */
public class NativeArgumentsBatteryTest {
    private static final byte[] VALID_BODY = ("{\"pipeline-name\": \"build\", \"pipeline-counter\": 1, \"stage-name\": \"compile\","
            + " \"stage-counter\": \"1\", \"stage-state\": \"Passed\", \"stage-result\": \"Passed\","
            + " \"create-time\": \"2011-07-14T19:43:37.100Z\"}").getBytes(StandardCharsets.UTF_8);
    private static final int MIB = 1024 * 1024;

    private final HeraldPlugin plugin = new HeraldPlugin();

    @BeforeClass
    public static void loadLibrary() {
        NativeBridge.ensureLoaded();
    }

    @Test
    public void coreVersionIsTheJarVersion() {
        assertEquals(BuildInfo.version(), NativeBridge.coreVersion());
        assertStillServing();
    }

    @Test
    public void startAndStopRepeatedKeepServing() {
        NativeBridge.start(NativeLog.configuredLevel());
        NativeBridge.start(NativeLog.configuredLevel());
        assertStillServing();

        NativeBridge.stop();
        NativeBridge.stop();
        NativeBridge.start(NativeLog.configuredLevel());
        assertStillServing();
    }

    @Test
    public void nullApiVersionRaisesInBridge() {
        try {
            NativeBridge.handle("stage-status", null, VALID_BODY, new int[1]);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("apiVersion"));
        }
        assertStillServing();
    }

    @Test
    public void emptyCodeArrayRaisesInBridge() {
        try {
            NativeBridge.handle("stage-status", "4.0", VALID_BODY, new int[0]);
            fail("expected an exception for a code array of length 0");
        } catch (RuntimeException e) {
            assertNotNull(e.getMessage());
        }
        assertStillServing();
    }

    @Test
    public void emptyRequestNameFails() {
        assertFailure(handleBytes("", "4.0", VALID_BODY));
        assertStillServing();
    }

    @Test
    public void emptyApiVersionFails() {
        // The flat body carries no version, so use a nested one, whose parsing needs the version.
        String nested = "{\"pipeline\": {}}";
        assertFailure(handleBytes("stage-status", "", nested.getBytes(StandardCharsets.UTF_8)));
        assertStillServing();
    }

    @Test
    public void emptyBodyFailsForEveryNotification() {
        assertFailure(handleBytes("stage-status", "4.0", new byte[0]));
        assertFailure(handleBytes("agent-status", "4.0", new byte[0]));
        assertStillServing();
    }

    @Test
    public void emptySettingsAreRejected() {
        assertNotNull(NativeBridge.applyPluginSettings(new byte[0]));
        assertNotNull(NativeBridge.applyServerInfo(new byte[0]));
        assertRejectionReportedThenReset();
        assertStillServing();
    }

    @Test
    public void nullServerInfoIsHandled() {
        // Null means the server sent no body; the core may accept that as no site URL or reject it.
        String reason = NativeBridge.applyServerInfo(null);
        if (reason != null) {
            assertFalse(reason.isEmpty());
        }
        assertStillServing();
    }

    @Test
    public void loneSurrogatesInNamesFail() {
        String[] names = {"stage-status\uD800", "\uDC00stage-status", "stage\uDBFF\uDBFFstatus"};
        for (String name : names) {
            assertFailure(handleBytes(name, "4.0", VALID_BODY));
            assertFailure(handleBytes("stage-status", "4.0\uD800", "{\"pipeline\": {}}".getBytes(StandardCharsets.UTF_8)));
        }
        assertStillServing();
    }

    @Test
    public void loneSurrogateInPluginRequestFails() {
        // The request name reaches the core with its lone surrogate, and the failure message that
        // quotes the name must still be well-formed JSON.
        GoPluginApiResponse response = plugin.handle(request("stage\uD800status", "4.0", new String(VALID_BODY, StandardCharsets.UTF_8)));

        assertEquals("failure", statusOf(response.responseBody()));
        assertStillServing();
    }

    @Test
    public void sixtyFourMebibyteBodyFails() {
        // 64 MiB of an unterminated array: large, and invalid.
        byte[] body = new byte[64 * MIB];
        Arrays.fill(body, (byte) '[');

        assertFailure(handleBytes("stage-status", "4.0", body));
        assertStillServing();
    }

    @Test
    public void sixtyFourMebibyteStringFails() {
        // A valid 64 MiB JSON object whose pipeline name is huge, through the plugin's String path.
        char[] name = new char[64 * MIB];
        Arrays.fill(name, 'x');
        String body = "{\"pipeline\": {\"name\": \"" + new String(name) + "\"}}";

        GoPluginApiResponse response = plugin.handle(request("stage-status", "4.0", body));

        assertEquals("failure", statusOf(response.responseBody()));
        assertStillServing();
    }

    @Test
    public void arraysNestedDeeplyFail() {
        assertFailure(handleBytes("stage-status", "4.0", nested("[", "]", 100_000)));
        assertStillServing();
    }

    @Test
    public void objectsNestedDeeplyFail() {
        assertFailure(handleBytes("stage-status", "4.0", nested("{\"a\":", "}", 100_000)));
        assertFailure(handleBytes("agent-status", "4.0", nested("{\"a\":", "}", 100_000)));
        assertStillServing();
    }

    @Test
    public void deeplyNestedSettingsAreRejected() {
        byte[] body = nested("{\"plugin-settings\":", "}", 100_000);

        assertNotNull(NativeBridge.applyPluginSettings(body));
        assertNotNull(NativeBridge.applyServerInfo(body));
        assertFailure(handleBytes("go.plugin-settings.validate-configuration", "4.0", body));
        assertRejectionReportedThenReset();
        assertStillServing();
    }

    @Test
    public void invalidUtf8Fails() {
        byte[][] bodies = {
            {(byte) 0xff},
            {'{', '"', (byte) 0xc3, '(', '"', ':', '1', '}'},
            // An overlong encoding of '/', and a UTF-16 surrogate encoded as UTF-8.
            {'{', '"', (byte) 0xc0, (byte) 0xaf, '"', ':', '1', '}'},
            {'{', '"', (byte) 0xed, (byte) 0xa0, (byte) 0x80, '"', ':', '1', '}'},
            // A sequence cut off at the end of the body.
            {'{', '"', 'a', '"', ':', '"', (byte) 0xe2, (byte) 0x82},
        };
        for (byte[] body : bodies) {
            assertFailure(handleBytes("stage-status", "4.0", body));
            assertFailure(handleBytes("agent-status", "4.0", body));
            assertFailure(handleBytes("go.plugin-settings.validate-configuration", "4.0", body));
            assertNotNull(NativeBridge.applyPluginSettings(body));
            assertNotNull(NativeBridge.applyServerInfo(body));
            assertRejectionReportedThenReset();
        }
        assertStillServing();
    }

    /** A response code and body, the body checked to be valid UTF-8. */
    private static final class NativeResponse {
        final int code;
        final String body;

        NativeResponse(int code, String body) {
            this.code = code;
            this.body = body;
        }
    }

    private static NativeResponse handleBytes(String requestName, String apiVersion, byte[] body) {
        int[] code = new int[1];
        byte[] response = NativeBridge.handle(requestName, apiVersion, body, code);
        assertNotNull("null response to " + requestName, response);
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(response))
                    .toString();
            return new NativeResponse(code[0], text);
        } catch (CharacterCodingException e) {
            throw new AssertionError("response to " + requestName + " is not valid UTF-8", e);
        }
    }

    private static void assertFailure(NativeResponse result) {
        assertEquals(result.body, "failure", statusOf(result.body));
        assertTrue(result.body, result.code == 200 || result.code == 400 || result.code == 500);
        assertTrue(result.body, JsonParser.parseString(result.body).getAsJsonObject().getAsJsonArray("messages").size() > 0);
    }

    /**
     * Checks that a valid notification now reports the rejected settings (GoCD shows it as a
     * health message), then applies never-saved settings, so later checks start from the defaults.
     */
    private static void assertRejectionReportedThenReset() {
        NativeResponse result = handleBytes("stage-status", "4.0", VALID_BODY);
        assertEquals(result.body, "failure", statusOf(result.body));
        assertTrue(result.body, result.body.contains("Herald rejected its saved plugin settings"));

        assertNull(NativeBridge.applyPluginSettings(null));
    }

    private void assertStillServing() {
        NativeResponse result = handleBytes("stage-status", "4.0", VALID_BODY);

        assertEquals(result.body, 200, result.code);
        assertEquals(result.body, "success", statusOf(result.body));
    }

    private static String statusOf(String body) {
        JsonObject object = JsonParser.parseString(body).getAsJsonObject();
        return object.get("status").getAsString();
    }

    private static byte[] nested(String open, String close, int depth) {
        StringBuilder text = new StringBuilder(depth * (open.length() + close.length()) + 1);
        for (int i = 0; i < depth; i++) {
            text.append(open);
        }
        text.append('1');
        for (int i = 0; i < depth; i++) {
            text.append(close);
        }
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static DefaultGoPluginApiRequest request(String name, String version, String body) {
        DefaultGoPluginApiRequest request = new DefaultGoPluginApiRequest("notification", version, name);
        request.setRequestBody(body);
        return request;
    }
}
