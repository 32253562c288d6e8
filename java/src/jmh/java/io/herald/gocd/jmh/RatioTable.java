package io.herald.gocd.jmh;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;

/**
 * Prints, from a JMH result file in JSON, the median and mean of the native and the Gson
 * stage-status benchmarks per body and the ratio native/baseline of the medians.
 *
 * <p>Argument: the result file written by JMH's {@code -rf json -rff FILE}.
 */
public final class RatioTable {
    private static final String NATIVE = NativeStageStatusBenchmark.class.getName() + ".handle";
    private static final String BASELINE = GsonStageStatusBenchmark.class.getName() + ".handle";

    private RatioTable() {
    }

    /** One benchmark's figures, in microseconds. */
    private static final class Figures {
        final double median;
        final double mean;
        final double error;

        Figures(JsonObject metric) {
            median = metric.getAsJsonObject("scorePercentiles").get("50.0").getAsDouble();
            mean = metric.get("score").getAsDouble();
            double scoreError = metric.get("scoreError").getAsDouble();
            error = Double.isNaN(scoreError) ? 0 : scoreError;
        }

        String format() {
            return String.format("%10.2f %10.2f ± %-8.2f", median, mean, error);
        }
    }

    public static void main(String[] args) throws Exception {
        String json = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        JsonArray results = JsonParser.parseString(json).getAsJsonArray();

        Map<String, Figures> nativeByBody = new HashMap<>();
        Map<String, Figures> baselineByBody = new HashMap<>();
        for (JsonElement element : results) {
            JsonObject result = element.getAsJsonObject();
            String benchmark = result.get("benchmark").getAsString();
            if (!benchmark.equals(NATIVE) && !benchmark.equals(BASELINE)) {
                continue;
            }
            String body = result.getAsJsonObject("params").get("body").getAsString();
            Figures figures = new Figures(result.getAsJsonObject("primaryMetric"));
            if (benchmark.equals(NATIVE)) {
                nativeByBody.put(body, figures);
            } else if (benchmark.equals(BASELINE)) {
                baselineByBody.put(body, figures);
            }
        }

        System.out.println();
        System.out.println("stage-status handle(), microseconds per call (median, mean ± 99.9% error)");
        System.out.printf("%-14s | %-32s | %-32s | %s%n", "body", "native (jar + JNI)", "Gson baseline", "native/baseline (medians)");
        for (String body : Harness.BODIES) {
            Figures nativeFigures = nativeByBody.get(body);
            Figures baselineFigures = baselineByBody.get(body);
            String ratio = nativeFigures == null || baselineFigures == null ? "n/a"
                    : String.format("%.2f", nativeFigures.median / baselineFigures.median);
            System.out.printf("%-14s | %-32s | %-32s | %s%n", body,
                    nativeFigures == null ? "not run" : nativeFigures.format(),
                    baselineFigures == null ? "not run" : baselineFigures.format(),
                    ratio);
        }
    }
}
