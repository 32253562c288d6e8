package io.herald.gocd;

import com.thoughtworks.go.plugin.api.response.DefaultGoPluginApiResponse;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;

/** Failure responses built in Java, for when the native side cannot respond. */
final class FailureResponse {
    static final int INTERNAL_ERROR = 500;

    /** Used when even building a message fails, for example after an OutOfMemoryError. */
    static final String CONSTANT_BODY =
            "{\"status\":\"failure\",\"messages\":[\"Herald failed with an internal error; see the plugin log\"]}";

    private FailureResponse() {
    }

    /** Returns a 500 response {"status": "failure", "messages": [message]}. */
    static GoPluginApiResponse of(String message) {
        return new DefaultGoPluginApiResponse(INTERNAL_ERROR, body(message));
    }

    static GoPluginApiResponse constant() {
        return new DefaultGoPluginApiResponse(INTERNAL_ERROR, CONSTANT_BODY);
    }

    static String body(String message) {
        return "{\"status\":\"failure\",\"messages\":[" + jsonString(message) + "]}";
    }

    /**
     * Quotes {@code text} as a JSON string. Everything outside printable ASCII is written as a
     * \\u escape, so the result is plain ASCII whatever the text contains (lone surrogates included).
     */
    static String jsonString(String text) {
        String value = text == null ? "null" : text;
        StringBuilder out = new StringBuilder(value.length() + 2);
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
