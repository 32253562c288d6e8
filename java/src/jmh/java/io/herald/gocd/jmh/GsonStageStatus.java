package io.herald.gocd.jmh;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.annotations.SerializedName;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Handles a stage-status body the way plain-Java GoCD plugins do: Gson binds it to objects, then
 * Java code checks what the Herald core checks. Required fields must be present, states and
 * results must be known enum values, counters must be positive integers, dates must be in GoCD's
 * format, and a flat body must have exactly its seven fields. The result is a response body.
 *
 * <p>Only the benchmarks use this class, as the baseline the native core is compared with.
 */
final class GsonStageStatus {
    private static final DateTimeFormatter OFFSET_DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSZ");
    private static final DateTimeFormatter UTC_Z_DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSX");
    private static final Set<String> FLAT_FIELDS = new HashSet<>(Arrays.asList("pipeline-name", "pipeline-counter",
            "stage-name", "stage-counter", "stage-state", "stage-result", "create-time"));

    private final Gson gson = new Gson();

    enum StageState {
        Building, Failing, Passed, Failed, Cancelled, Unknown
    }

    enum StageResult {
        Passed, Failed, Cancelled, Unknown
    }

    static final class Notification {
        Pipeline pipeline;
    }

    static final class Pipeline {
        String name;
        String counter;
        String label;
        String group;
        @SerializedName("build-cause")
        List<BuildCause> buildCause;
        Stage stage;
    }

    static final class BuildCause {
        JsonObject material;
        Boolean changed;
        List<Modification> modifications;
    }

    static final class Modification {
        String revision;
        @SerializedName("modified-time")
        String modifiedTime;
        Map<String, String> data;
    }

    static final class Stage {
        String name;
        String counter;
        @SerializedName("approval-type")
        String approvalType;
        @SerializedName("approved-by")
        String approvedBy;
        @SerializedName("previous-stage-name")
        String previousStageName;
        @SerializedName("previous-stage-counter")
        Integer previousStageCounter;
        StageState state;
        StageResult result;
        @SerializedName("create-time")
        String createTime;
        @SerializedName("last-transition-time")
        String lastTransitionTime;
        List<Job> jobs;
    }

    static final class Job {
        String name;
        @SerializedName("schedule-time")
        String scheduleTime;
        @SerializedName("assign-time")
        String assignTime;
        @SerializedName("complete-time")
        String completeTime;
        String state;
        StageResult result;
        @SerializedName("agent-uuid")
        String agentUuid;
    }

    static final class Flat {
        @SerializedName("pipeline-name")
        String pipelineName;
        @SerializedName("pipeline-counter")
        Long pipelineCounter;
        @SerializedName("stage-name")
        String stageName;
        @SerializedName("stage-counter")
        String stageCounter;
        @SerializedName("stage-state")
        StageState stageState;
        @SerializedName("stage-result")
        StageResult stageResult;
        @SerializedName("create-time")
        String createTime;
    }

    /** Parsed and checked dates of one event, kept so the checks cannot be optimized away. */
    private static final class Checked {
        final List<String> problems = new ArrayList<>();
        final List<OffsetDateTime> dates = new ArrayList<>();
    }

    /** Returns {"status": "success"}, or a failure body listing every problem. */
    String handle(String body, String apiVersion) {
        Checked checked = new Checked();
        try {
            Notification notification = gson.fromJson(body, Notification.class);
            if (notification == null) {
                checked.problems.add("the body is empty");
            } else if (notification.pipeline != null) {
                checkPipeline(notification.pipeline, apiVersion, checked);
            } else {
                checkFlat(body, checked);
            }
        } catch (JsonParseException e) {
            checked.problems.add("invalid JSON: " + e.getMessage());
        }
        if (checked.problems.isEmpty()) {
            return "{\"status\":\"success\",\"dates\":" + checked.dates.size() + "}";
        }
        return "{\"status\":\"failure\",\"messages\":" + gson.toJson(checked.problems) + "}";
    }

    private void checkPipeline(Pipeline pipeline, String apiVersion, Checked checked) {
        boolean v4 = "4.0".equals(apiVersion);
        required("pipeline.name", pipeline.name, checked);
        counter("pipeline.counter", pipeline.counter, checked);
        required("pipeline.label", pipeline.label, checked);
        required("pipeline.build-cause", pipeline.buildCause, checked);
        required("pipeline.stage", pipeline.stage, checked);

        if (pipeline.buildCause != null) {
            for (int i = 0; i < pipeline.buildCause.size(); i++) {
                checkBuildCause("pipeline.build-cause[" + i + "]", pipeline.buildCause.get(i), v4, checked);
            }
        }
        Stage stage = pipeline.stage;
        if (stage == null) {
            return;
        }
        required("pipeline.stage.name", stage.name, checked);
        counter("pipeline.stage.counter", stage.counter, checked);
        required("pipeline.stage.approval-type", stage.approvalType, checked);
        required("pipeline.stage.approved-by", stage.approvedBy, checked);
        if (v4) {
            required("pipeline.stage.previous-stage-counter", stage.previousStageCounter, checked);
        }
        required("pipeline.stage.state", stage.state, checked);
        required("pipeline.stage.result", stage.result, checked);
        date("pipeline.stage.create-time", stage.createTime, OFFSET_DATE, checked);
        date("pipeline.stage.last-transition-time", stage.lastTransitionTime, OFFSET_DATE, checked);
        required("pipeline.stage.jobs", stage.jobs, checked);
        if (stage.jobs != null) {
            for (int i = 0; i < stage.jobs.size(); i++) {
                checkJob("pipeline.stage.jobs[" + i + "]", stage.jobs.get(i), checked);
            }
        }
    }

    private static void checkBuildCause(String path, BuildCause cause, boolean v4, Checked checked) {
        if (!required(path, cause, checked)) {
            return;
        }
        required(path + ".changed", cause.changed, checked);
        if (required(path + ".material", cause.material, checked)) {
            JsonElement type = cause.material.get("type");
            if (type == null || !type.isJsonPrimitive()) {
                checked.problems.add(path + ".material.type: expected a string");
            } else {
                JsonElement configuration = cause.material.get(type.getAsString() + "-configuration");
                if (configuration == null || !(configuration.isJsonObject() || configuration.isJsonNull())) {
                    checked.problems.add(path + ".material: expected an object " + type.getAsString() + "-configuration");
                }
            }
            JsonElement fingerprint = cause.material.get("fingerprint");
            if (v4 && (fingerprint == null || !fingerprint.isJsonPrimitive())) {
                checked.problems.add(path + ".material.fingerprint: expected a string");
            }
        }
        if (required(path + ".modifications", cause.modifications, checked)) {
            for (int i = 0; i < cause.modifications.size(); i++) {
                Modification modification = cause.modifications.get(i);
                String at = path + ".modifications[" + i + "]";
                if (required(at, modification, checked)) {
                    required(at + ".revision", modification.revision, checked);
                    date(at + ".modified-time", modification.modifiedTime, OFFSET_DATE, checked);
                }
            }
        }
    }

    private static void checkJob(String path, Job job, Checked checked) {
        if (!required(path, job, checked)) {
            return;
        }
        required(path + ".name", job.name, checked);
        date(path + ".schedule-time", job.scheduleTime, OFFSET_DATE, checked);
        date(path + ".assign-time", job.assignTime, OFFSET_DATE, checked);
        date(path + ".complete-time", job.completeTime, OFFSET_DATE, checked);
        required(path + ".state", job.state, checked);
        required(path + ".result", job.result, checked);
    }

    private void checkFlat(String body, Checked checked) {
        JsonObject object = JsonParser.parseString(body).getAsJsonObject();
        for (String key : object.keySet()) {
            if (!FLAT_FIELDS.contains(key)) {
                checked.problems.add(key + ": unknown field");
            }
        }
        Flat flat = gson.fromJson(object, Flat.class);
        required("pipeline-name", flat.pipelineName, checked);
        if (required("pipeline-counter", flat.pipelineCounter, checked) && flat.pipelineCounter < 1) {
            checked.problems.add("pipeline-counter: expected a positive integer");
        }
        required("stage-name", flat.stageName, checked);
        counter("stage-counter", flat.stageCounter, checked);
        required("stage-state", flat.stageState, checked);
        required("stage-result", flat.stageResult, checked);
        date("create-time", flat.createTime, UTC_Z_DATE, checked);
    }

    /** Records a problem when {@code value} is null; Gson also leaves an unknown enum value null. */
    private static boolean required(String path, Object value, Checked checked) {
        if (value == null) {
            checked.problems.add(path + ": missing, null or not a known value");
            return false;
        }
        return true;
    }

    private static void counter(String path, String value, Checked checked) {
        if (!required(path, value, checked)) {
            return;
        }
        try {
            if (Long.parseLong(value) < 1) {
                checked.problems.add(path + ": expected a positive integer, found " + value);
            }
        } catch (NumberFormatException e) {
            checked.problems.add(path + ": expected a positive integer, found " + value);
        }
    }

    /** Parses a date; GoCD sends the empty string for a date that is not set yet. */
    private static void date(String path, String value, DateTimeFormatter format, Checked checked) {
        if (!required(path, value, checked) || value.isEmpty()) {
            return;
        }
        try {
            checked.dates.add(OffsetDateTime.parse(value, format));
        } catch (DateTimeParseException e) {
            checked.problems.add(path + ": expected a date like 2026-03-23T17:27:58.000+0000, found " + value);
        }
    }
}
