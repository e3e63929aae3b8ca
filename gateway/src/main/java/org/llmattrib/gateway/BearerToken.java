package org.llmattrib.gateway;

import io.vertx.core.Future;
import io.vertx.ext.auth.User;
import io.vertx.ext.web.handler.AuthenticationHandler;
import io.vertx.ext.web.handler.HttpException;
import io.vertx.ext.web.handler.SimpleAuthenticationHandler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** {@code Authorization: Bearer <token>}, compared in constant time; anything else is 401. */
final class BearerToken {
    private BearerToken() {}

    static AuthenticationHandler handler(String token) {
        byte[] expected = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        return SimpleAuthenticationHandler.create().authenticate(ctx -> {
            String given = ctx.request().getHeader("Authorization");
            return given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), expected)
                    ? Future.succeededFuture(User.fromName("client"))
                    : Future.failedFuture(new HttpException(401));
        });
    }
}
