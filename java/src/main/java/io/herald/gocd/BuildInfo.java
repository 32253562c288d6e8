package io.herald.gocd;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** Facts written into the jar by the build. */
final class BuildInfo {
    private static final String RESOURCE = "herald-build.properties";

    private BuildInfo() {
    }

    /** Returns the version the jar was built with, which must equal the Rust core's version. */
    static String version() {
        Properties properties = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource io/herald/gocd/" + RESOURCE + " is missing from the plugin jar");
            }
            properties.load(in);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read io/herald/gocd/" + RESOURCE, e);
        }
        String version = properties.getProperty("version");
        if (version == null || version.isEmpty()) {
            throw new IllegalStateException("io/herald/gocd/" + RESOURCE + " has no version");
        }
        return version;
    }
}
