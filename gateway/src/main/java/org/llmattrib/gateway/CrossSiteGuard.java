package org.llmattrib.gateway;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.MIMEHeader;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.CorsHandler;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Set;

/**
 * Keeps web pages on other sites from submitting or cancelling jobs (cross-site request forgery),
 * token or no token, from what the browser itself says about each request:
 * <ul>
 *   <li>{@code POST} takes only {@code application/json}: a page can send that to another origin only
 *       after a CORS preflight, which the gateway answers for no one but {@code --cors-origin};
 *   <li>a {@code POST} or {@code DELETE} whose {@code Origin} is neither the gateway's own (the scheme
 *       and {@code Host} the request came to) nor {@code --cors-origin}, or whose {@code Sec-Fetch-Site}
 *       is {@code cross-site} or {@code same-site} from any other origin, is refused with 403.
 * </ul>
 * Clients that send neither header (curl, pipelines, the Java and Python clients) are not affected.
 * This is not Vert.x Web's {@code CSRFHandler}: that one guards cookie sessions with a double-submit
 * token, so every client, curl included, would first fetch a cookie and echo it in a header; the
 * gateway has no session and no cookie to protect, only requests a browser can be made to send.
 */
final class CrossSiteGuard {
    private final WebOrigin allowed;

    /** @param corsOrigin the one other origin allowed to call the API, or null */
    CrossSiteGuard(String corsOrigin) {
        this.allowed = corsOrigin == null ? null : parseConfigured(corsOrigin);
    }

    /** {@code --cors-origin} as {@code scheme://host[:port]}, or IllegalArgumentException naming the flag. */
    static WebOrigin parseConfigured(String corsOrigin) {
        WebOrigin origin = WebOrigin.parse(corsOrigin.endsWith("/") ? corsOrigin.substring(0, corsOrigin.length() - 1)
                : corsOrigin);
        if (origin == null) {
            throw new IllegalArgumentException("--cors-origin '" + corsOrigin
                    + "' is not an origin: give scheme://host[:port], e.g. https://notebook.example");
        }
        return origin;
    }

    /** Puts the checks, then CORS for {@code --cors-origin}, in front of every route of {@code router}. */
    void install(Router router) {
        router.route().method(HttpMethod.POST).method(HttpMethod.DELETE).handler(this::refuseOtherSites);
        router.route().method(HttpMethod.POST).handler(CrossSiteGuard::refuseAllButJson);
        if (allowed != null) {
            // the gateway's own pages need no CORS, and Vert.x's CorsHandler would refuse their Origin
            CorsHandler cors = CorsHandler.create().addOrigin(allowed.toString())
                    .allowedMethods(Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE))
                    .allowedHeaders(Set.of("Authorization", "Content-Type", "Last-Event-ID"));
            router.route().handler(ctx -> {
                WebOrigin origin = WebOrigin.parse(ctx.request().getHeader("Origin"));
                if (origin != null && origin.equals(WebOrigin.of(ctx.request()))) {
                    ctx.next();
                } else {
                    cors.handle(ctx);
                }
            });
        }
    }

    private void refuseOtherSites(RoutingContext ctx) {
        String originHeader = ctx.request().getHeader("Origin");
        String fetchSite = ctx.request().getHeader("Sec-Fetch-Site");
        WebOrigin origin = WebOrigin.parse(originHeader);
        WebOrigin own = WebOrigin.of(ctx.request());
        String page;
        if (allowed != null && allowed.equals(origin)) {
            page = null;
        } else if (originHeader != null && (origin == null || !origin.equals(own))) {
            page = "a page at Origin " + originHeader;
        } else if ("cross-site".equals(fetchSite) || "same-site".equals(fetchSite)) {
            page = "a page on another site (Sec-Fetch-Site: " + fetchSite + ")";
        } else {
            page = null;
        }
        if (page == null) {
            ctx.next();
            return;
        }
        Responses.error(ctx, 403, "cross_site_request", page + " may not submit or cancel jobs: only this gateway's"
                + " own pages (" + own + ")" + (allowed == null ? " may (--cors-origin allows one more origin)"
                        : " and --cors-origin " + allowed + " may"), null);
    }

    private static void refuseAllButJson(RoutingContext ctx) {
        MIMEHeader type = ctx.parsedHeaders().contentType();
        if (type != null && "application".equalsIgnoreCase(type.component()) && "json".equalsIgnoreCase(type.subComponent())) {
            ctx.next();
            return;
        }
        String given = ctx.request().getHeader("Content-Type");
        Responses.error(ctx, 415, "unsupported_media_type", (given == null ? "no Content-Type"
                : "Content-Type '" + given + "' is not accepted") + ": POST a JSON body with Content-Type: application/json",
                null);
    }

    /** A web origin, {@code scheme://host:port}, compared as browsers do (the default port filled in). */
    record WebOrigin(String scheme, String host, int port) {
        /** The origin a request was sent to: its scheme and {@code Host} (or a proxy's X-Forwarded-* / Forwarded). */
        static WebOrigin of(HttpServerRequest request) {
            HostAndPort authority = request.authority();
            String scheme = request.scheme() == null ? "http" : request.scheme().toLowerCase(Locale.ROOT);
            return authority == null ? null : new WebOrigin(scheme, normalHost(authority.host()),
                    authority.port() > 0 ? authority.port() : defaultPort(scheme));
        }

        /** An {@code Origin} header's value; null when absent, {@code null} (an opaque origin) or not an origin. */
        static WebOrigin parse(String origin) {
            if (origin == null) {
                return null;
            }
            try {
                URI uri = new URI(origin);
                String scheme = uri.getScheme() == null ? null : uri.getScheme().toLowerCase(Locale.ROOT);
                boolean bare = uri.getRawUserInfo() == null && (uri.getRawPath() == null || uri.getRawPath().isEmpty())
                        && uri.getRawQuery() == null && uri.getRawFragment() == null;
                if (!("http".equals(scheme) || "https".equals(scheme)) || uri.getHost() == null || !bare) {
                    return null;
                }
                return new WebOrigin(scheme, normalHost(uri.getHost()), uri.getPort() > 0 ? uri.getPort()
                        : defaultPort(scheme));
            } catch (URISyntaxException e) {
                return null;
            }
        }

        private static String normalHost(String host) {
            String h = host.toLowerCase(Locale.ROOT);
            return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
        }

        private static int defaultPort(String scheme) {
            return "https".equals(scheme) ? 443 : 80;
        }

        @Override
        public String toString() {
            String h = host.contains(":") ? "[" + host + "]" : host;
            return scheme + "://" + h + (port == defaultPort(scheme) ? "" : ":" + port);
        }
    }
}
