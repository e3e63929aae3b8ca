package org.llmattrib.attribution;

import org.llmattrib.protocol.ErrorCode;

/** A request the engine cannot run, with the request field at fault (a JSON path such as "method.name"). */
public class RequestException extends RuntimeException {
    private final ErrorCode code;
    private final String field;

    public RequestException(ErrorCode code, String field, String message) {
        super(message);
        this.code = code;
        this.field = field;
    }

    public static RequestException invalid(String field, String message) {
        return new RequestException(ErrorCode.INVALID_REQUEST, field, message);
    }

    public ErrorCode code() {
        return code;
    }

    public String field() {
        return field;
    }
}
