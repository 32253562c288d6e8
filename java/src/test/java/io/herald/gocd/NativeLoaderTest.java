package io.herald.gocd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.Test;

public class NativeLoaderTest {
    @Test
    public void osNamesNormalize() {
        String[][] table = {
            {"Linux", "linux"}, {"Mac OS X", "macos"}, {"Darwin", "macos"}, {"Windows 10", "windows"},
            {"Windows Server 2022", "windows"}, {"FreeBSD", "freebsd"}, {"SunOS", "sunos"},
        };
        for (String[] row : table) {
            assertEquals(row[0], row[1], NativeLoader.normalizeOs(row[0]));
        }
    }

    @Test
    public void archNamesNormalize() {
        String[][] table = {
            {"amd64", "x86_64"}, {"x86_64", "x86_64"}, {"X86_64", "x86_64"}, {"aarch64", "aarch64"}, {"arm64", "aarch64"},
            {"i386", "x86"}, {"x86", "x86"}, {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
        };
        for (String[] row : table) {
            assertEquals(row[0], row[1], NativeLoader.normalizeArch(row[0]));
        }
    }

    @Test
    public void resourcePathUsesOsArchAndFile() {
        assertEquals("native/linux-x86_64/libherald.so", NativeLoader.resourcePath("Linux", "amd64", "libherald.so"));
        assertEquals("native/macos-aarch64/libherald.dylib", NativeLoader.resourcePath("Mac OS X", "aarch64", "libherald.dylib"));
    }

    @Test
    public void missingLibraryNamesPlatformAndPaths() throws Exception {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            NativeLoader.load(empty, "herald", "0.0.0", () -> "0.0.0");
            fail("expected UnsatisfiedLinkError");
        } catch (UnsatisfiedLinkError e) {
            String message = e.getMessage();
            assertTrue(message, message.contains("os.name=" + System.getProperty("os.name")));
            assertTrue(message, message.contains("os.arch=" + System.getProperty("os.arch")));
            assertTrue(message, message.contains("native/"));
            assertTrue(message, message.contains(System.mapLibraryName("herald")));
        }
    }

    @Test
    public void versionMismatchIsRejected() {
        try {
            NativeLoader.load(NativeLoaderTest.class.getClassLoader(), "herald", "9.9.9-expected", () -> "0.0.1-actual");
            fail("expected UnsatisfiedLinkError");
        } catch (UnsatisfiedLinkError e) {
            assertTrue(e.getMessage(), e.getMessage().contains("9.9.9-expected"));
            assertTrue(e.getMessage(), e.getMessage().contains("0.0.1-actual"));
        }
    }

    @Test
    public void extractedCopyIsUniqueAndDeleted() {
        Path first = NativeLoader.load(NativeLoaderTest.class.getClassLoader(), "herald", "v", () -> "v");
        Path second = NativeLoader.load(NativeLoaderTest.class.getClassLoader(), "herald", "v", () -> "v");

        assertFalse(first.equals(second));
        assertFalse(first + " still exists", Files.exists(first));
        assertFalse(second + " still exists", Files.exists(second));
    }
}
