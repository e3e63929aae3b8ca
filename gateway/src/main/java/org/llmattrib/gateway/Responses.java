package org.llmattrib.gateway;

import io.vertx.ext.web.RoutingContext;
import org.llmattrib.protocol.Protocol;

/** JSON answers: the gateway's bodies go through the protocol's mapper (snake_case). */
final class Responses {
    private Responses() {}

    static void json(RoutingContext ctx, int status, Object body) {
        ctx.response().setStatusCode(status).putHeader("content-type", "application/json")
                .end(Protocol.toJson(body));
    }

    static void error(RoutingContext ctx, int status, String code, String message, String field) {
        json(ctx, status, new ApiError(code, message, field));
    }
}
