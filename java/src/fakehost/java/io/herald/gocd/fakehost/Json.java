package io.herald.gocd.fakehost;

import java.util.Map;

/** Just enough JSON writing for the fake host's responses. */
final class Json {
    private Json() {
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    static String object(Map<String, String> fields) {
        StringBuilder out = new StringBuilder("{");
        for (Map.Entry<String, String> field : fields.entrySet()) {
            if (out.length() > 1) {
                out.append(',');
            }
            out.append(quote(field.getKey())).append(':').append(field.getValue() == null ? "null" : quote(field.getValue()));
        }
        return out.append('}').toString();
    }
}
