package io.herald.gocd.jmh;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import io.herald.gocd.fakehost.LoadedPlugin;
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
 * {@code handle("stage-status")} on the plugin class loaded from the built jar by the fake GoCD
 * host, so each call takes the path a GoCD server's call takes: the Java adapter, JNI, parsing,
 * validation, the log record and the response. The settings are the defaults (no event log, no
 * destinations) with the queue folder in a temporary folder.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class NativeStageStatusBenchmark {
    @Param({"flat", "api-4.0-2k", "api-4.0-20k", "api-4.0-200k"})
    public String body;

    private String bodyText;
    private LoadedPlugin plugin;

    @Setup(Level.Trial)
    public void load() throws Exception {
        Harness.discardStdout();
        bodyText = Harness.benchBody(body);
        plugin = Harness.loadPlugin(Map.of());

        GoPluginApiResponse response = plugin.send("stage-status", bodyText);
        if (response.responseCode() != 200 || !response.responseBody().contains("\"success\"")) {
            throw new IllegalStateException("the plugin rejected " + body + ": " + response.responseCode() + " " + response.responseBody());
        }
    }

    @TearDown(Level.Trial)
    public void unload() throws Exception {
        plugin.close();
    }

    @Benchmark
    public GoPluginApiResponse handle() {
        return plugin.send("stage-status", bodyText);
    }
}
