package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import com.thoughtworks.go.plugin.api.request.DefaultGoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** Every case of tests/fixtures/cases.json, sent through HeraldPlugin and the JNI bridge. */
public class BridgeCasesTest {
    private final HeraldPlugin plugin = new HeraldPlugin();

    @Test
    public void everyFixtureCaseGetsItsAnswer() throws Exception {
        List<Fixtures.Case> cases = Fixtures.cases();
        assertFalse("cases.json lists no case", cases.isEmpty());

        List<String> mismatches = new ArrayList<>();
        for (Fixtures.Case fixture : cases) {
            String mismatch = check(fixture);
            if (mismatch != null) {
                mismatches.add(fixture.name + ": " + mismatch);
            }
        }
        assertTrue(mismatches.size() + " of " + cases.size() + " cases differ:\n" + String.join("\n", mismatches), mismatches.isEmpty());
    }

    private String check(Fixtures.Case fixture) throws Exception {
        if (fixture.expected == null) {
            return "the fixture has no expected answer";
        }
        byte[] body = fixture.bodyFile == null ? null : Fixtures.readBytes(fixture.bodyFile);
        int code;
        String answer;
        if (body == null || isUtf8(body)) {
            DefaultGoPluginApiRequest request = new DefaultGoPluginApiRequest("notification", fixture.apiVersion, fixture.request);
            request.setRequestBody(body == null ? null : new String(body, StandardCharsets.UTF_8));
            GoPluginApiResponse response = plugin.handle(request);
            code = response.responseCode();
            answer = response.responseBody();
        } else {
            // A Java String cannot carry invalid UTF-8, so such bodies go to the native method as bytes.
            NativeBridge.ensureLoaded();
            int[] codeOut = new int[1];
            answer = new String(NativeBridge.handle(fixture.request, fixture.apiVersion, body, codeOut), StandardCharsets.UTF_8);
            code = codeOut[0];
        }

        int expectedCode = fixture.expected.get("code").getAsInt();
        JsonElement expectedBody = fixture.expected.get("body");
        JsonElement actualBody;
        try {
            actualBody = JsonParser.parseString(answer);
        } catch (RuntimeException e) {
            return "answer is not JSON: " + answer;
        }
        if (code != expectedCode || !expectedBody.equals(actualBody)) {
            return "expected " + expectedCode + " " + expectedBody + ", got " + code + " " + answer;
        }
        return null;
    }

    private static boolean isUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    @Test
    public void notificationsInterestedInListsStageStatus() {
        GoPluginApiResponse response = plugin.handle(new DefaultGoPluginApiRequest("notification", "4.0", "notifications-interested-in"));

        assertEquals(200, response.responseCode());
        assertNotNull(response.responseBody());
        assertTrue(response.responseBody(), JsonParser.parseString(response.responseBody()).getAsJsonObject()
                .getAsJsonArray("notifications").toString().contains("\"stage-status\""));
    }
}
