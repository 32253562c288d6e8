package io.herald.gocd.jmh;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import io.herald.gocd.fakehost.LoadedPlugin;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Splits one {@code stage-status} call into layers, to show where the time of
 * {@link NativeStageStatusBenchmark} goes:
 * <ul>
 *   <li>{@code coreVersion}: a bare JNI call that returns a short string;
 *   <li>{@code bridgeHandle}: {@code NativeBridge.handle} with the body already in UTF-8 bytes,
 *       so JNI, the argument copies and the Rust core;
 *   <li>{@code bridgeHandleWithText}: the same plus the String-to-bytes and bytes-to-String
 *       conversions that the plugin class makes;
 *   <li>{@code pluginHandle}: the whole call through {@code HeraldPlugin.handle}.
 * </ul>
 * Not part of the default {@code ./gradlew jmh} run; select it with {@code -Pjmh.include=BridgeLayers}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class BridgeLayersBenchmark {
    @Param({"flat", "api-4.0-2k"})
    public String body;

    private String bodyText;
    private byte[] bodyBytes;
    private String apiVersion;
    private LoadedPlugin plugin;
    private MethodHandle coreVersion;
    private MethodHandle handle;

    @Setup(Level.Trial)
    public void load() throws Exception {
        Harness.discardStdout();
        bodyText = Harness.benchBody(body);
        bodyBytes = bodyText.getBytes(StandardCharsets.UTF_8);
        plugin = Harness.loadPlugin(Map.of());
        // The negotiated version, which NativeStageStatusBenchmark sends with every body.
        apiVersion = plugin.apiVersion;

        // NativeBridge is package-private in the plugin's classloader, as in a GoCD server.
        Class<?> bridge = Class.forName("io.herald.gocd.NativeBridge", true, plugin.classLoader());
        coreVersion = unreflect(bridge.getDeclaredMethod("coreVersion"));
        handle = unreflect(bridge.getDeclaredMethod("handle", String.class, String.class, byte[].class, int[].class));

        GoPluginApiResponse response = plugin.send("stage-status", apiVersion, bodyText);
        if (response.responseCode() != 200 || !response.responseBody().contains("\"success\"")) {
            throw new IllegalStateException("the plugin rejected " + body + ": " + response.responseCode() + " " + response.responseBody());
        }
    }

    private static MethodHandle unreflect(Method method) throws IllegalAccessException {
        method.setAccessible(true);
        return MethodHandles.lookup().unreflect(method);
    }

    @TearDown(Level.Trial)
    public void unload() throws Exception {
        plugin.close();
    }

    @Benchmark
    public Object coreVersion() throws Throwable {
        return coreVersion.invoke();
    }

    @Benchmark
    public Object bridgeHandle() throws Throwable {
        return handle.invoke("stage-status", apiVersion, bodyBytes, new int[1]);
    }

    @Benchmark
    public Object bridgeHandleWithText() throws Throwable {
        byte[] response = (byte[]) handle.invoke("stage-status", apiVersion, bodyText.getBytes(StandardCharsets.UTF_8), new int[1]);
        return new String(response, StandardCharsets.UTF_8);
    }

    @Benchmark
    public GoPluginApiResponse pluginHandle() {
        return plugin.send("stage-status", apiVersion, bodyText);
    }
}
