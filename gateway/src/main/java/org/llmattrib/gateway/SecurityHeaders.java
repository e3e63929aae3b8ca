package org.llmattrib.gateway;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.CSPHandler;
import io.vertx.ext.web.handler.XFrameHandler;

/**
 * Headers on every response that keep a browser from running anything but the dashboard's own
 * files in its page (Content-Security-Policy: no inline script or style, nothing from elsewhere),
 * from framing it (clickjacking) and from sniffing a JSON answer into HTML or script.
 */
final class SecurityHeaders {
    private SecurityHeaders() {}

    static void install(Router router) {
        router.route().handler(CSPHandler.create()
                .setDirective("default-src", "'none'")
                .setDirective("script-src", "'self'")
                .setDirective("style-src", "'self'")
                .setDirective("connect-src", "'self'")
                .setDirective("img-src", "'self' data: blob:") // the PNG export draws the SVG through a data: URL
                .setDirective("base-uri", "'none'")
                .setDirective("form-action", "'none'")
                .setDirective("frame-ancestors", "'none'"));
        router.route().handler(XFrameHandler.create(XFrameHandler.DENY));
        router.route().handler(ctx -> {
            ctx.response().putHeader("x-content-type-options", "nosniff");
            ctx.next();
        });
    }
}
