package io.herald.gocd;

/**
 * Native methods implemented by the Rust library, and its one-time loading.
 *
 * <p>Bodies cross as UTF-8 bytes. Bridge failures (a null argument, a failed JNI call, a panic
 * outside the request handler) arrive as runtime exceptions.
 */
final class NativeBridge {
    static final String LIBRARY_NAME = "herald";

    private static final Object LOCK = new Object();
    /** Written under {@link #LOCK}; volatile so that requests after the first skip the lock. */
    private static volatile boolean loaded;
    private static UnsatisfiedLinkError loadFailure;

    private NativeBridge() {
    }

    /**
     * Loads the library on the first call. A failure is remembered, so later calls raise the same
     * error at once instead of extracting the library again.
     */
    static void ensureLoaded() {
        if (loaded) {
            return;
        }
        synchronized (LOCK) {
            if (loaded) {
                return;
            }
            if (loadFailure != null) {
                throw loadFailure;
            }
            try {
                NativeLoader.load(NativeBridge.class.getClassLoader(), LIBRARY_NAME, BuildInfo.version(), NativeBridge::coreVersion);
                loaded = true;
            } catch (UnsatisfiedLinkError e) {
                loadFailure = e;
                throw e;
            }
        }
    }

    static boolean isLoaded() {
        return loaded;
    }

    /** Returns the version of the Rust core, compared with {@link BuildInfo#version()} after loading. */
    static native String coreVersion();

    /**
     * Starts log forwarding and the core's background work. Records more detailed than
     * {@code logLevel} (a {@link NativeLog} level constant) are not forwarded.
     */
    static native void start(int logLevel);

    /** Stops the core's background work and log forwarding, releasing every global reference. */
    static native void stop();

    /**
     * Handles one GoCD request.
     *
     * @param body the UTF-8 request body, or null when GoCD sent none
     * @param codeOut an array of length 1 that receives the response code
     * @return the UTF-8 response body
     */
    static native byte[] handle(String requestName, String apiVersion, byte[] body, int[] codeOut);

    /** Applies stored plugin settings (null: never saved). Returns null, or why they were rejected. */
    static native String applyPluginSettings(byte[] body);

    /** Applies the server info (site URLs). Returns null, or why it was rejected. */
    static native String applyServerInfo(byte[] body);
}
