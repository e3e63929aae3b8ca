package org.llmattrib.attribution;

/** A request the engine cannot run, with the request field at fault (a JSON path such as "method.name"). */
public class RequestException extends RuntimeException {
    private final String code;
    private final String field;

    public RequestException(String code, String field, String message) {
        super(message);
        this.code = code;
        this.field = field;
    }

    public static RequestException invalid(String field, String message) {
        return new RequestException("invalid_request", field, message);
    }

    public String code() {
        return code;
    }

    public String field() {
        return field;
    }
}
