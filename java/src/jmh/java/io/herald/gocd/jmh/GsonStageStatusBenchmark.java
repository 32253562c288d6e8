package io.herald.gocd.jmh;

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

/** The plain-Java baseline: Gson into objects and the same checks, for the same bodies. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class GsonStageStatusBenchmark {
    @Param({"flat", "api-4.0-2k", "api-4.0-20k", "api-4.0-200k"})
    public String body;

    private String bodyText;
    private String apiVersion;
    private final GsonStageStatus parser = new GsonStageStatus();

    @Setup(Level.Trial)
    public void read() throws Exception {
        bodyText = Harness.benchBody(body);
        apiVersion = Harness.apiVersionOf(body);

        String response = parser.handle(bodyText, apiVersion);
        if (!response.contains("\"success\"")) {
            throw new IllegalStateException("the Gson baseline rejected " + body + ": " + response);
        }
    }

    @Benchmark
    public String handle() {
        return parser.handle(bodyText, apiVersion);
    }
}
