package org.llmattrib.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Topic names, the JSON mapping of every message, and request validation against the JSON Schema. */
public final class Protocol {
    public static final String REQUESTS_TOPIC = "attribution.requests";
    public static final String RESULTS_TOPIC = "attribution.results";
    public static final String CONTROL_TOPIC = "attribution.control";
    public static final String DEAD_LETTER_TOPIC = "attribution.requests.dlq";
    /** Compacted: job id to the request's hash and status, written by the workers (see {@code JobStatus}). */
    public static final String JOBS_TOPIC = "attribution.jobs";

    /**
     * The most bytes one event may encode to: Kafka's default record limit (1 MiB,
     * {@code max.request.size}, the broker's {@code message.max.bytes}) less room for key and headers.
     */
    public static final int MAX_EVENT_BYTES = 1_000_000;

    /** A job id, as the request schema's {@code job_id} pattern says. */
    private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

    /** Whether {@code id} is a valid job id (what an answer may be published under). */
    public static boolean isJobId(String id) {
        return id != null && JOB_ID.matcher(id).matches();
    }

    /** Far deeper than any message of the protocol, far shallower than what overflows a parser's stack. */
    static final int MAX_NESTING_DEPTH = 64;

    /**
     * The shared mapper: snake_case JSON, unknown properties rejected, a key twice in one object or
     * anything after the value refused (a reader would otherwise see another message than the one
     * validated), integers read into untyped ({@code Number}) places as {@code Long}. Do not reconfigure it.
     */
    public static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING_DEPTH).build())
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build())
            .configure(DeserializationFeature.FAIL_ON_TRAILING_TOKENS, true)
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
            .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true)
            .configure(DeserializationFeature.USE_LONG_FOR_INTS, true);

    /** For {@link #scanJobId}: a streaming parser's depth is a counter, not a stack. */
    private static final JsonFactory SCANNER = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(Integer.MAX_VALUE).build()).build();
    private static final ObjectReader TREE_READER = JSON.reader().without(DeserializationFeature.USE_LONG_FOR_INTS);
    private static final Schema REQUEST_SCHEMA = schema("attribution-request-v1.schema.json");
    private static final Schema CONTROL_SCHEMA = schema("attribution-control-v1.schema.json");

    private Protocol() {}

    /**
     * A schema of {@code /schemas/}. As draft 2020-12 prescribes, {@code format} is an annotation only:
     * the worker checks that a deadline parses as an instant.
     */
    static Schema schema(String file) {
        try (InputStream in = Protocol.class.getResourceAsStream("/schemas/" + file)) {
            return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(JSON.readTree(in));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Parses and validates a request. Every problem, whatever the bytes (null, not UTF-8, not JSON,
     * nested too deeply, numbers out of range, schema violations), is a {@link ProtocolException}
     * naming the field, with the job id when it is readable.
     */
    public static AttributionRequest decodeRequest(byte[] json) {
        JsonNode node = parse(json);
        String jobId = node.path("job_id").isTextual() ? node.path("job_id").asText() : null;
        JsonNode schema = node.path("schema");
        if (!AttributionRequest.SCHEMA.equals(schema.asText(null))) {
            throw new ProtocolException(ErrorCode.UNSUPPORTED_SCHEMA, "schema", jobId, schema.isMissingNode()
                    ? "the request has no 'schema' field; expected \"" + AttributionRequest.SCHEMA + "\""
                    : "schema " + schema + " is not supported; this worker speaks \"" + AttributionRequest.SCHEMA + "\"");
        }
        checkValues(node, "", jobId);
        try {
            validate(REQUEST_SCHEMA, node, jobId);
            return map(node, AttributionRequest.class, jobId);
        } catch (ProtocolException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, null, jobId, "cannot read the request: " + e);
        }
    }

    /**
     * Numbers no field can hold (integers beyond 64 bits, decimals beyond double) and strings that
     * are not text (an unpaired UTF-16 surrogate escape, which no encoding can carry) are refused by path.
     */
    private static void checkValues(JsonNode node, String path, String jobId) {
        if (node.isNumber() && (node.isIntegralNumber() ? !node.canConvertToLong() : !Double.isFinite(node.asDouble()))) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, path, jobId, "invalid request: " + path + ": the number "
                    + abbreviate(node.asText()) + " is out of range");
        }
        int surrogate = node.isTextual() ? unpairedSurrogate(node.asText()) : -1;
        if (surrogate >= 0) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, path, jobId, String.format(Locale.ROOT,
                    "invalid request: %s: \\u%04x at character %d is half of a UTF-16 surrogate pair, not text", path,
                    (int) node.asText().charAt(surrogate), surrogate));
        }
        if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                checkValues(node.get(i), path + "[" + i + "]", jobId);
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            checkValues(field.getValue(), path.isEmpty() ? field.getKey() : path + "." + field.getKey(), jobId);
        }
    }

    /** The index of the first surrogate char without its partner, or -1. */
    private static int unpairedSurrogate(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    private static String abbreviate(String text) {
        return text.length() <= 40 ? text : text.substring(0, 20) + "..." + text.substring(text.length() - 10)
                + " (" + text.length() + " digits)";
    }

    /** Parses and validates a control message. */
    public static Control decodeControl(byte[] json) {
        JsonNode node = parse(json);
        validate(CONTROL_SCHEMA, node, null);
        return map(node, Control.class, null);
    }

    /** Maps an event by its {@code type} (events come from workers, so no schema validation). */
    public static AttributionEvent decodeEvent(byte[] json) {
        return map(parse(json), AttributionEvent.class, null);
    }

    /** Maps a job status record (written by workers, so no schema validation). */
    public static JobStatus decodeJobStatus(byte[] json) {
        return map(parse(json), JobStatus.class, null);
    }

    /** Any message as UTF-8 JSON. */
    public static byte[] encode(Object message) {
        try {
            return JSON.writeValueAsBytes(message);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot encode " + message, e);
        }
    }

    /** Any message as a JSON string. */
    public static String toJson(Object message) {
        return new String(encode(message), StandardCharsets.UTF_8);
    }

    private static JsonNode parse(byte[] json) {
        if (json == null) {
            throw new ProtocolException(ErrorCode.MALFORMED_JSON, null, null, "the record has no value (a tombstone)");
        }
        JsonNode node;
        try {
            // integers as they come (BigInteger beyond 64 bits), so that checkNumbers can name the field
            node = TREE_READER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ProtocolException(ErrorCode.MALFORMED_JSON, null, scanJobId(json), "the message is not valid JSON: "
                    + e.getOriginalMessage());
        } catch (IOException e) {
            // e.g. CharConversionException: bytes that are not UTF-8, UTF-16 or UTF-32
            throw new ProtocolException(ErrorCode.MALFORMED_JSON, null, null, "the message is not valid JSON text: "
                    + e.getMessage());
        }
        if (node == null || !node.isObject()) {
            throw new ProtocolException(ErrorCode.MALFORMED_JSON, null, null, "the message is not a JSON object");
        }
        return node;
    }

    /**
     * The top-level {@code job_id} string of a message that could not be parsed as a whole (nested
     * too deeply, truncated after the id, a syntax error later on), or null: read with a streaming
     * parser that skips nested values without a depth limit (it keeps no stack of its own).
     */
    private static String scanJobId(byte[] json) {
        try (JsonParser p = SCANNER.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                JsonToken value = p.nextToken();
                if ("job_id".equals(p.currentName())) {
                    return value == JsonToken.VALUE_STRING ? p.getText() : null;
                }
                p.skipChildren();
            }
        } catch (IOException | RuntimeException e) {
            // unreadable before a job_id came
        }
        return null;
    }

    private static void validate(Schema schema, JsonNode node, String jobId) {
        List<Error> errors = schema.validate(node);
        if (errors.isEmpty()) {
            return;
        }
        // the deepest error names the field most precisely
        Error first = errors.stream().max(Comparator.comparingInt(e -> fieldOf(e).length())).orElseThrow();
        String field = fieldOf(first);
        String all = errors.stream().map(e -> fieldOf(e) + ": " + detail(e)).distinct().collect(Collectors.joining("; "));
        throw new ProtocolException(ErrorCode.INVALID_REQUEST, field, jobId, "invalid request: " + all);
    }

    /** JSON path of the error's field, without the leading "$.", including a missing or unknown property. */
    private static String fieldOf(Error e) {
        StringBuilder b = new StringBuilder();
        var location = e.getInstanceLocation();
        for (int i = 0; i < location.getNameCount(); i++) {
            Object element = location.getElement(i);
            if (element instanceof Integer index) {
                b.append('[').append(index).append(']');
            } else {
                b.append(b.length() == 0 ? "" : ".").append(element);
            }
        }
        String path = b.toString();
        if (e.getProperty() != null) {
            path = path.isEmpty() ? e.getProperty() : path + "." + e.getProperty();
        }
        return path;
    }

    private static String detail(Error e) {
        String m = e.getMessage();
        int colon = m.indexOf(": ");
        return (m.startsWith("$") || m.startsWith("/")) && colon > 0 ? m.substring(colon + 2) : m;
    }

    private static <T> T map(JsonNode node, Class<T> type, String jobId) {
        try {
            return JSON.treeToValue(node, type);
        } catch (JsonMappingException e) {
            String field = e.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining(".")).replace(".[", "[");
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, field, jobId, "invalid " + type.getSimpleName() + ": "
                    + e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, null, jobId, "invalid " + type.getSimpleName() + ": "
                    + e.getOriginalMessage());
        }
    }
}
