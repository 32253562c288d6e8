package io.herald.gocd;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Loads a native library bundled in the jar at {@code native/<os>-<arch>/<library file>}.
 *
 * <p>Every load extracts a fresh, uniquely named copy: GoCD reloads a replaced plugin jar in a new
 * classloader inside the same JVM, and the JDK refuses to load one library file from two
 * classloaders. Right after loading, the library's own version must equal the jar's.
 */
final class NativeLoader {
    /** System property naming a library file to load instead of the bundled one (for development). */
    static final String LIBRARY_OVERRIDE_PROPERTY = "herald.native.library";
    /** System property naming the folder for the extracted copy; the default is java.io.tmpdir. */
    static final String EXTRACT_DIR_PROPERTY = "herald.native.tmpdir";

    /** System.nanoTime() just before the latest System.load, read by the measurement harness. */
    static volatile long lastLoadStartNanos;

    private NativeLoader() {
    }

    /**
     * Loads {@code libraryName} for the running platform and checks its version.
     *
     * @param classLoader the classloader holding the library resource
     * @param coreVersion reads the loaded library's version through one of its native methods
     * @return the file that was loaded
     * @throws UnsatisfiedLinkError when no library fits, it cannot be loaded, or its version differs
     */
    static Path load(ClassLoader classLoader, String libraryName, String expectedVersion, Supplier<String> coreVersion) {
        String osName = System.getProperty("os.name", "");
        String osArch = System.getProperty("os.arch", "");
        String fileName = System.mapLibraryName(libraryName);
        List<String> tried = new ArrayList<>();

        Path loaded = loadOverride(tried);
        if (loaded == null) {
            String resource = resourcePath(osName, osArch, fileName);
            tried.add("resource " + resource);
            URL url = classLoader.getResource(resource);
            if (url == null) {
                throw new UnsatisfiedLinkError("no Herald native library for os.name=" + osName + ", os.arch=" + osArch
                        + " (tried: " + String.join(", ", tried) + "); this jar supports only the platforms in its plugin.xml");
            }
            loaded = extractAndLoad(url, fileName, tried);
        }

        checkVersion(loaded, expectedVersion, coreVersion);
        return loaded;
    }

    /** Returns {@code native/<os>-<arch>/<fileName>} for the given os.name and os.arch. */
    static String resourcePath(String osName, String osArch, String fileName) {
        return "native/" + normalizeOs(osName) + "-" + normalizeArch(osArch) + "/" + fileName;
    }

    static String normalizeOs(String osName) {
        String os = osName.toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
            return "linux";
        }
        if (os.startsWith("mac") || os.startsWith("darwin")) {
            return "macos";
        }
        if (os.startsWith("windows")) {
            return "windows";
        }
        if (os.startsWith("freebsd")) {
            return "freebsd";
        }
        return os.replaceAll("[^a-z0-9]+", "");
    }

    static String normalizeArch(String osArch) {
        String arch = osArch.toLowerCase(Locale.ROOT);
        switch (arch) {
            case "amd64":
            case "x86_64":
            case "x86-64":
            case "x64":
                return "x86_64";
            case "aarch64":
            case "arm64":
                return "aarch64";
            case "x86":
            case "i386":
            case "i486":
            case "i586":
            case "i686":
                return "x86";
            case "ppc64le":
            case "powerpc64le":
                return "ppc64le";
            case "s390x":
                return "s390x";
            case "riscv64":
                return "riscv64";
            default:
                return arch.replaceAll("[^a-z0-9_]+", "");
        }
    }

    private static Path loadOverride(List<String> tried) {
        String override = System.getProperty(LIBRARY_OVERRIDE_PROPERTY);
        if (override == null || override.isEmpty()) {
            return null;
        }
        Path path = Paths.get(override).toAbsolutePath();
        tried.add(LIBRARY_OVERRIDE_PROPERTY + "=" + path);
        if (!Files.isRegularFile(path)) {
            throw new UnsatisfiedLinkError("the library named by " + LIBRARY_OVERRIDE_PROPERTY + " does not exist: " + path);
        }
        lastLoadStartNanos = System.nanoTime();
        System.load(path.toString());
        return path;
    }

    private static Path extractAndLoad(URL url, String fileName, List<String> tried) {
        Path copy;
        try {
            String dir = System.getProperty(EXTRACT_DIR_PROPERTY, System.getProperty("java.io.tmpdir"));
            copy = Files.createTempFile(Paths.get(dir), "herald-", "-" + fileName);
            try (InputStream in = url.openStream()) {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError("cannot extract the Herald native library from " + url
                    + " (tried: " + String.join(", ", tried) + "): " + e
                    + "; set -D" + EXTRACT_DIR_PROPERTY + " to a writable folder that allows executables");
            error.initCause(e);
            throw error;
        }
        tried.add("copy " + copy);

        try {
            lastLoadStartNanos = System.nanoTime();
            System.load(copy.toString());
        } finally {
            deleteLoadedCopy(copy);
        }
        return copy;
    }

    /**
     * Deletes the extracted copy. On Unix-like systems a loaded library stays mapped after its file
     * is deleted. Windows keeps the file locked while loaded, so there it goes at JVM exit.
     */
    private static void deleteLoadedCopy(Path copy) {
        try {
            Files.deleteIfExists(copy);
        } catch (IOException e) {
            copy.toFile().deleteOnExit();
        }
    }

    private static void checkVersion(Path loaded, String expectedVersion, Supplier<String> coreVersion) {
        String actual = coreVersion.get();
        if (!expectedVersion.equals(actual)) {
            throw new UnsatisfiedLinkError("the Herald native library " + loaded + " has version " + actual
                    + " but the plugin jar was built for " + expectedVersion + "; rebuild the jar so both come from one build");
        }
    }
}
