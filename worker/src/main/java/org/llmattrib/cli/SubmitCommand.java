package org.llmattrib.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.JobStatus;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Sends a request file and follows its events: a progress bar and heatmap, or JSON lines. The same
 * request again (its job running or completed) is not sent twice: its events are replayed.
 */
@Command(name = "submit", description = "Submit a request file to the workers and follow its results. The same"
        + " request again shows its job's events (replayed from the results topic) instead of running it twice.")
final class SubmitCommand implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka;

    @Option(names = "--request", required = true, description = "request JSON file (attribution-request/v1)")
    Path request;

    @Option(names = "--job-id", description = "override the file's job_id (a file without one gets a generated id)")
    String jobId;

    @Option(names = "--json", description = "print the job's events as JSON lines and nothing else")
    boolean json;

    @Option(names = "--timeout", defaultValue = "PT30M", description = "how long to follow the job, ISO-8601"
            + " (default: ${DEFAULT-VALUE}); the job goes on after it")
    Duration timeout;

    @Override
    public Integer call() throws IOException {
        RequestFile file = RequestFile.read(request, jobId);
        String id;
        try {
            id = file.decode().jobId();
        } catch (ProtocolException e) {
            throw file.invalid(e); // the workers would refuse it: nothing is sent
        }
        file.tellGeneratedId(id, System.err);
        try (AttributionClient client = new AttributionClient(kafka.bootstrap, kafka.properties(), kafka.connectTimeout)) {
            AttributionEvent last = client.submitAndFollow(id, file.json(), timeout, known -> System.err.println(
                    resubmitted(known)), json ? e -> System.out.println(Protocol.toJson(e)) : new EventView(System.out, 0));
            if (last == null) {
                System.err.println("no final event for " + id + " within " + timeout + " (--timeout); the job goes on:"
                        + " the same command follows it again");
                return 3;
            }
            return last instanceof AttributionEvent.Completed ? 0 : 1;
        }
    }

    private String resubmitted(JobStatus known) {
        return known.state() == JobStatus.State.COMPLETED
                ? "job " + known.jobId() + ": this request completed already (worker " + known.worker() + "), so it is"
                        + " not run again; its events from the results topic follow (--job-id NEW runs it again)"
                : "job " + known.jobId() + ": this request is running already (worker " + known.worker() + "), so it"
                        + " is not sent again; following it (up to --timeout " + timeout + ")";
    }
}
