package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.Test;

public class FailureResponseTest {
    @Test
    public void bodyRoundTripsAwkwardText() {
        String message = "quote \" backslash \\ newline \n tab \t nul \u0000 é 构建 🚀";

        JsonObject body = JsonParser.parseString(FailureResponse.body(message)).getAsJsonObject();

        assertEquals("failure", body.get("status").getAsString());
        assertEquals(message, body.getAsJsonArray("messages").get(0).getAsString());
    }

    @Test
    public void bodyIsAsciiEvenWithLoneSurrogate() {
        String body = FailureResponse.body("lone \uD800 surrogate");

        assertTrue(body, body.chars().allMatch(c -> c >= 0x20 && c <= 0x7e));
        assertEquals("failure", JsonParser.parseString(body).getAsJsonObject().get("status").getAsString());
    }

    @Test
    public void constantBodyIsValidJson() {
        JsonObject body = JsonParser.parseString(FailureResponse.CONSTANT_BODY).getAsJsonObject();

        assertEquals("failure", body.get("status").getAsString());
    }
}
