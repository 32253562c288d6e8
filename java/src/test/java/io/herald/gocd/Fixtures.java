package io.herald.gocd;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/** The fixtures shared with the Rust tests, in the folder the build passes as herald.fixtures. */
final class Fixtures {
    private Fixtures() {
    }

    static Path root() {
        String root = System.getProperty("herald.fixtures");
        if (root == null) {
            throw new IllegalStateException("system property herald.fixtures is not set; run the tests through Gradle");
        }
        return Paths.get(root);
    }

    static String read(String relativePath) throws IOException {
        return new String(Files.readAllBytes(root().resolve(relativePath)), StandardCharsets.UTF_8);
    }

    static byte[] readBytes(String relativePath) throws IOException {
        return Files.readAllBytes(root().resolve(relativePath));
    }

    /** One entry of cases.json: a request and the answer it must get. */
    static final class Case {
        final String name;
        final String request;
        final String apiVersion;
        final String bodyFile;
        final JsonObject expected;

        Case(JsonObject json) {
            name = json.get("name").getAsString();
            request = json.get("request").getAsString();
            apiVersion = json.get("api-version").getAsString();
            bodyFile = json.get("body-file").isJsonNull() ? null : json.get("body-file").getAsString();
            expected = json.get("expected").isJsonNull() ? null : json.getAsJsonObject("expected");
        }
    }

    static List<Case> cases() throws IOException {
        JsonArray array = JsonParser.parseString(read("cases.json")).getAsJsonArray();
        List<Case> cases = new ArrayList<>();
        for (JsonElement element : array) {
            cases.add(new Case(element.getAsJsonObject()));
        }
        return cases;
    }
}
