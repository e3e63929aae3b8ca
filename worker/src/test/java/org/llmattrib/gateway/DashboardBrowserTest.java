package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser (Debian's headless Chromium through chromedriver) against a real
 * broker, a real worker on the tiny checkpoint and the gateway: what the page draws is exactly what
 * the worker streamed. Skips, saying why, where Chromium is not installed.
 */
class DashboardBrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    /** The page re-draws the heatmap on each event; once the job is completed it stays. */
    static final By COMPLETED_HEATMAP = By.cssSelector("svg#heatmap[data-status='completed']");
    /** A laptop's browser window: the page fits it without scrolling sideways. */
    static final int LAPTOP_WIDTH = 1400;

    static LocalStack stack;
    static Gateway gateway;

    @BeforeAll
    static void start() throws InterruptedException {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "SKIPPED: the browser test needs Debian's chromium and chromium-driver "
                        + "(apt-get install -y chromium chromium-driver; .ci/run installs them)");
        stack = LocalStack.start("browser-workers");
        gateway = stack.gateway();
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    static WebDriver chromium(Path profile) {
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile()).addArguments("--headless",
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        WebDriver driver = new ChromeDriver(service, options);
        driver.manage().window().setSize(new Dimension(LAPTOP_WIDTH, 1000));
        return driver;
    }

    @Test
    void theSeedShapleyJobSubmittedThroughThePageIsDrawnWithTheStreamedNumbers(@TempDir Path profile) throws Exception {
        WebDriver driver = chromium(profile);
        try {
            WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
            driver.get(gateway.url());
            wait.until(d -> new Select(d.findElement(By.id("example"))).getOptions().size() > 1);
            new Select(driver.findElement(By.id("example"))).selectByValue("seed-template-shapley");
            assertThat(driver.findElement(By.id("request")).getAttribute("value")).contains("shapley_values");
            driver.findElement(By.id("submit")).click();
            wait.until(ExpectedConditions.urlContains("/jobs/seed-template-shapley-"));
            String jobId = driver.getCurrentUrl().substring(driver.getCurrentUrl().indexOf("/jobs/") + 6);
            wait.until(ExpectedConditions.presenceOfElementLocated(COMPLETED_HEATMAP));

            List<AttributionEvent> events = streamed(jobId);
            assertDrawn(driver, events);
            // the job list shows it, completed, on one line
            String badge = "#jobs tr[data-job-id='" + jobId + "'] .status";
            wait.until(d -> textOf(d, badge).equals("completed"));
            assertThat(lines(driver, badge)).as("lines of the status badge").isEqualTo(1);
            assertFitsTheWindow(driver, "heatmap");
            // the work reads as words
            Map<String, Number> work = last(events, AttributionEvent.Completed.class).work();
            assertThat(driver.findElement(By.id("timings")).getText()).doesNotContain("{")
                    .contains(String.format(Locale.ROOT, "work: %,d batched forwards", work.get("forwards").longValue()))
                    .contains(String.format(Locale.ROOT, "%,d rows", work.get("rows").longValue()))
                    .contains("FLOP");
            // the page says which way round the heatmap is, like the terminal heatmap does
            assertThat(driver.findElement(By.id("heatmap-orientation")).getText())
                    .startsWith("rows: target tokens · columns: input features");
            driver.findElement(By.id("transpose")).click();
            assertThat(driver.findElement(By.id("heatmap-orientation")).getText())
                    .startsWith("rows: input features · columns: target tokens");
            driver.findElement(By.id("transpose")).click();
            Path shot = ((org.openqa.selenium.TakesScreenshot) driver).getScreenshotAs(OutputType.FILE).toPath();
            Files.copy(shot, Path.of("target", "dashboard.png"), StandardCopyOption.REPLACE_EXISTING);

            // a deep link to the finished job fills the page from its events after the fact
            driver.get(gateway.url() + "jobs/" + jobId);
            wait.until(ExpectedConditions.presenceOfElementLocated(COMPLETED_HEATMAP));
            assertDrawn(driver, events);
        } finally {
            driver.quit();
        }
    }

    /**
     * The seed's multi-layer request (its globs expand to 9 taps on the tiny model's 2 layers, 65 on
     * Llama-3.2-1B): the layers overview in model order, for the sequence and each target token, a
     * row's click opening its tap's heatmap, and each tap's heatmap with its IG deltas, at laptop size.
     */
    @Test
    void theMultiLayerJobHasALayersOverviewAndEachTapsHeatmapWithItsIgDelta(@TempDir Path profile) throws Exception {
        String jobId = "browser-lig-multilayer";
        List<AttributionEvent> events = submitAndWait("seed-lig-multilayer", jobId);
        List<AttributionEvent.Token> tokens = tokens(events);
        AttributionEvent.Completed completed = last(events, AttributionEvent.Completed.class);
        int features = ((AttributionEvent.Accepted) events.get(0)).features().size();
        List<String> taps = TestModels.tinyLlama3(DataType.FLOAT32).model().tapNames().stream()
                .filter(tokens.get(0).layers()::containsKey).toList();
        assertThat(taps).hasSize(9).hasSameElementsAs(tokens.get(0).layers().keySet())
                .isNotEqualTo(List.copyOf(tokens.get(0).layers().keySet()));  // the glob order is not the model's
        WebDriver driver = chromium(profile);
        try {
            WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
            driver.get(gateway.url() + "jobs/" + jobId);
            wait.until(ExpectedConditions.presenceOfElementLocated(COMPLETED_HEATMAP));
            wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("svg#layers-overview")));

            // the overview: one row per tap in model order, each cell the tap's sequence attribution of a feature
            Select target = new Select(driver.findElement(By.id("overview-token")));
            assertThat(target.getOptions()).hasSize(tokens.size() + 1);
            List<Map<String, String>> cells = drawn(driver, "#layers-overview rect.cell");
            assertThat(cells).hasSize(taps.size() * features);
            assertThat(cells.stream().map(c -> c.get("layer")).distinct().toList()).isEqualTo(taps);
            for (Map<String, String> cell : cells) {
                assertThat(value(cell)).as("%s", cell)
                        .isEqualTo(completed.layersSeqAttr().get(cell.get("layer")).get(feature(cell)));
            }
            assertFitsTheWindow(driver, "layers-overview");
            Path shot = ((org.openqa.selenium.TakesScreenshot) driver).getScreenshotAs(OutputType.FILE).toPath();
            Files.copy(shot, Path.of("target", "dashboard-layers.png"), StandardCopyOption.REPLACE_EXISTING);
            // a target token: that token's row of each tap
            for (AttributionEvent.Token t : tokens) {
                target.selectByValue(Integer.toString(t.index()));
                cells = drawn(driver, "#layers-overview rect.cell");
                assertThat(cells).hasSize(taps.size() * features);
                assertThat(cells.stream().map(c -> c.get("layer")).distinct().toList()).isEqualTo(taps);
                for (Map<String, String> cell : cells) {
                    assertThat(cell.get("tokenIndex")).isEqualTo(Integer.toString(t.index()));
                    assertThat(value(cell)).as("%s", cell).isEqualTo(t.layers().get(cell.get("layer")).get(feature(cell)));
                }
            }
            // a row's click opens that tap's token x feature heatmap
            String clicked = taps.get(taps.size() - 1);
            driver.findElement(By.cssSelector("#layers-overview rect.cell[data-layer='" + clicked + "']")).click();
            assertThat(new Select(driver.findElement(By.id("layer"))).getFirstSelectedOption().getText()).isEqualTo(clicked);
            assertThat(drawn(driver, "#heatmap rect.cell")).isNotEmpty().allSatisfy(c -> assertThat(c.get("layer")).isEqualTo(clicked));

            // each tap's heatmap, and each token's IG completeness delta beside it
            Select layers = new Select(driver.findElement(By.id("layer")));
            assertThat(layers.getOptions()).extracting(WebElement::getText).isEqualTo(taps);
            for (String layer : taps) {
                layers.selectByValue(layer);
                List<Map<String, String>> heatmap = drawn(driver, "#heatmap rect.cell");
                assertThat(heatmap).hasSize(tokens.size() * features);
                for (Map<String, String> cell : heatmap) {
                    AttributionEvent.Token t = tokens.get(Integer.parseInt(cell.get("tokenIndex")));
                    assertThat(value(cell)).as(layer).isEqualTo(t.layers().get(layer).get(feature(cell)));
                }
                List<Map<String, String>> deltas = drawn(driver, "#heatmap-side text.ig-delta");
                assertThat(deltas).hasSize(tokens.size());
                for (Map<String, String> delta : deltas) {
                    AttributionEvent.Token t = tokens.get(Integer.parseInt(delta.get("tokenIndex")));
                    assertThat(value(delta)).as(layer).isEqualTo(t.ig().get(layer).delta());
                }
            }
            // 16 features are wider than the card at 1400 px: the matrix scrolls inside it, the deltas and legend stay in view
            JavascriptExecutor js = (JavascriptExecutor) driver;
            assertThat((Boolean) js.executeScript("const s = document.querySelector('#heatmap-box .plot-scroll');"
                    + " return s.scrollWidth > s.clientWidth;")).as("the heatmap scrolls inside its card").isTrue();
            assertFitsTheWindow(driver, "heatmap");
            // the export holds the matrix, the deltas and the legend
            String exported = (String) js.executeScript("return exported().svg;");
            assertThat(exported.split("class=\"cell\"", -1)).hasSize(tokens.size() * features + 1);
            assertThat(exported.split("class=\"ig-delta\"", -1)).hasSize(tokens.size() + 1);
            assertThat(exported).contains("class=\"legend\"");
            for (WebElement delta : driver.findElements(By.cssSelector("#heatmap-side text.ig-delta"))) {
                assertThat(right(driver, delta)).as("the IG delta's right edge").isLessThanOrEqualTo(LAPTOP_WIDTH);
            }
        } finally {
            driver.quit();
        }
    }

    @Test
    void aPageOnAnotherSiteCannotSubmitJobsThroughTheBrowser(@TempDir Path profile) throws Exception {
        // the attack of issue 16: requests a browser sends cross-site without a CORS preflight
        Map<String, String> attempts = Map.of("csrf-text-plain", "{mode: 'no-cors', headers: {'content-type': 'text/plain'}}",
                "csrf-form", "{mode: 'no-cors', headers: {'content-type': 'application/x-www-form-urlencoded'}}",
                "csrf-json", "{headers: {'content-type': 'application/json'}}"); // preflight first: refused
        StringBuilder script = new StringBuilder("const tries = [];\n");
        for (Map.Entry<String, String> attempt : attempts.entrySet()) {
            ObjectNode request = (ObjectNode) Examples.read("seed-token-feature-ablation");
            request.put("job_id", attempt.getKey());
            script.append("tries.push(fetch(").append(Protocol.JSON.writeValueAsString(gateway.url() + "v1/jobs"))
                    .append(", Object.assign({method: 'POST', body: ")
                    .append(Protocol.JSON.writeValueAsString(request.toString())).append("}, ")
                    .append(attempt.getValue()).append(")));\n");
        }
        script.append("Promise.allSettled(tries).then(r => document.title = 'sent: ' + r.map(x => x.status));\n");
        byte[] page = ("<!doctype html><title>elsewhere</title><script>" + script + "</script>")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        HttpServer elsewhere = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        elsewhere.createContext("/", exchange -> {
            exchange.getResponseHeaders().add("content-type", "text/html; charset=utf-8");
            exchange.sendResponseHeaders(200, page.length);
            exchange.getResponseBody().write(page);
            exchange.close();
        });
        elsewhere.start();
        WebDriver driver = chromium(profile);
        try {
            // localhost is another site than the gateway's 127.0.0.1
            driver.get("http://localhost:" + elsewhere.getAddress().getPort() + "/");
            new WebDriverWait(driver, Duration.ofSeconds(30)).until(d -> d.getTitle().startsWith("sent: "));
            assertThat(driver.getTitle()).as("the no-cors requests were sent, the JSON one refused at preflight")
                    .isEqualTo("sent: " + String.join(",", attempts.keySet().stream()
                            .map(k -> k.equals("csrf-json") ? "rejected" : "fulfilled").toList()));
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            for (String jobId : attempts.keySet()) {
                assertThat(http.send(java.net.http.HttpRequest.newBuilder(URI.create(gateway.url() + "v1/jobs/" + jobId))
                        .build(), java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode()).as(jobId)
                        .isEqualTo(404);
            }
        } finally {
            driver.quit();
            elsewhere.stop(0);
        }
    }

    /** Every tap of the model, requested in reverse: the overview lists them in the model's forward order. */
    @Test
    void theLayersOverviewListsEveryTapInModelOrderWhateverTheRequestsOrder(@TempDir Path profile) throws Exception {
        String jobId = "browser-lig-every-tap";
        List<String> taps = TestModels.tinyLlama3(DataType.FLOAT32).model().tapNames();
        List<String> reversed = new ArrayList<>(taps);
        Collections.reverse(reversed);
        ObjectNode request = (ObjectNode) Examples.read("seed-lig-multilayer");
        request.put("target", " golf");
        ((ObjectNode) request.get("method")).put("n_steps", 4);
        reversed.forEach(request.putArray("layers")::add);
        List<AttributionEvent> events = submitAndWait(request, jobId);
        assertThat(tokens(events).get(0).layers().keySet()).containsExactlyElementsOf(reversed);
        WebDriver driver = chromium(profile);
        try {
            driver.get(gateway.url() + "jobs/" + jobId);
            new WebDriverWait(driver, Duration.ofSeconds(60))
                    .until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("svg#layers-overview")));
            List<Map<String, String>> cells = drawn(driver, "#layers-overview rect.cell");
            assertThat(cells.stream().map(c -> c.get("layer")).distinct().toList()).isEqualTo(taps);
        } finally {
            driver.quit();
        }
    }

    /**
     * The few-shot seed under a long job id: its status badge stays on one line in the job list, its
     * long features' bar labels are shown whole, inside the chart; one generated token is "1 token".
     */
    @Test
    void longJobIdsAndLongFeatureLabelsFitTheirPlaces(@TempDir Path profile) throws Exception {
        String jobId = "browser-fewshot-segments-under-a-job-id-long-enough-to-fill-its-line-of-the-job-list";
        List<AttributionEvent> events = submitAndWait("seed-fewshot-segments", jobId);
        List<String> features = ((AttributionEvent.Accepted) events.get(0)).features();
        assertThat(features).anySatisfy(f -> assertThat(f.length()).isGreaterThan(40));
        WebDriver driver = chromium(profile);
        try {
            WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
            driver.get(gateway.url() + "jobs/" + jobId);
            wait.until(ExpectedConditions.presenceOfElementLocated(COMPLETED_HEATMAP));
            String badge = "#jobs tr[data-job-id='" + jobId + "'] .status";
            wait.until(d -> textOf(d, badge).equals("completed"));
            assertThat(lines(driver, badge)).as("lines of the status badge").isEqualTo(1);
            assertThat(textOf(driver, "#jobs tr[data-job-id='" + jobId + "']")).contains("shapley_values · 1 token").doesNotContain("1 tokens");
            assertDrawn(driver, events);
            WebElement chart = driver.findElement(By.id("seq-attr"));
            List<WebElement> labels = driver.findElements(By.cssSelector("#seq-attr text.bar-label"));
            assertThat(labels).hasSize(features.size());
            Map<String, Number> box = rect(driver, chart);
            for (int f = 0; f < labels.size(); f++) {
                Map<String, Number> r = rect(driver, labels.get(f));
                assertThat(shownText(driver, labels.get(f))).isEqualTo(features.get(f));
                assertThat(r.get("right").doubleValue()).as("right edge of %s", features.get(f))
                        .isLessThanOrEqualTo(box.get("right").doubleValue());
                assertThat(r.get("bottom").doubleValue()).as("bottom edge of %s", features.get(f))
                        .isLessThanOrEqualTo(box.get("bottom").doubleValue());
            }
            assertFitsTheWindow(driver, "heatmap");
        } finally {
            driver.quit();
        }
    }

    static List<AttributionEvent> submitAndWait(String example, String jobId) throws Exception {
        return submitAndWait((ObjectNode) Examples.read(example), jobId);
    }

    static List<AttributionEvent> submitAndWait(ObjectNode request, String jobId) throws Exception {
        request.put("job_id", jobId);
        GatewayClient client = new GatewayClient(URI.create(gateway.url()), null);
        assertThat(client.submit(Protocol.JSON.writeValueAsBytes(request)).statusCode()).isEqualTo(202);
        List<AttributionEvent> events = streamed(jobId);
        assertThat(events.get(events.size() - 1)).as("the job's last event").isInstanceOf(AttributionEvent.Completed.class);
        return events;
    }

    /** The job's events, read from Kafka with the Java client: independent of the gateway. */
    static List<AttributionEvent> streamed(String jobId) {
        try (AttributionClient client = new AttributionClient(stack.bootstrapServers());
                var events = client.events(jobId, Duration.ofSeconds(60))) {
            return events.toList();
        }
    }

    static List<AttributionEvent.Token> tokens(List<AttributionEvent> events) {
        return events.stream().filter(AttributionEvent.Token.class::isInstance).map(AttributionEvent.Token.class::cast)
                .toList();
    }

    static <T extends AttributionEvent> T last(List<AttributionEvent> events, Class<T> type) {
        return type.cast(events.get(events.size() - 1));
    }

    /** The data-* attributes of each element {@code selector} matches, in document order (one script, not a call per attribute). */
    @SuppressWarnings("unchecked")
    static List<Map<String, String>> drawn(WebDriver driver, String selector) {
        return (List<Map<String, String>>) ((JavascriptExecutor) driver).executeScript(
                "return [...document.querySelectorAll(arguments[0])].map(e => Object.assign({}, e.dataset));", selector);
    }

    static double value(Map<String, String> cell) {
        return Double.parseDouble(cell.get("value"));
    }

    static int feature(Map<String, String> cell) {
        return Integer.parseInt(cell.get("featureIndex"));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Number> rect(WebDriver driver, WebElement e) {
        return (Map<String, Number>) ((JavascriptExecutor) driver).executeScript(
                "const r = arguments[0].getBoundingClientRect();"
                        + " return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};", e);
    }

    static double right(WebDriver driver, WebElement e) {
        return rect(driver, e).get("right").doubleValue();
    }

    /** The text an SVG text element shows (its own text node, not its title). */
    static String shownText(WebDriver driver, WebElement e) {
        return (String) ((JavascriptExecutor) driver).executeScript("return arguments[0].firstChild.nodeValue;", e);
    }

    /** How many lines the text of the element {@code css} takes (in one script: the job list is redrawn every 2 s). */
    static long lines(WebDriver driver, String css) {
        return (Long) ((JavascriptExecutor) driver).executeScript("const r = document.createRange();"
                + " r.selectNodeContents(document.querySelector(arguments[0]));"
                + " return new Set([...r.getClientRects()].map(c => c.top)).size;", css);
    }

    /** The text of the element {@code css}, or "" while there is none. */
    static String textOf(WebDriver driver, String css) {
        return (String) ((JavascriptExecutor) driver).executeScript(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css);
    }

    /**
     * At laptop size (a 1400 px wide window) the document does not scroll sideways, and the legend of
     * the plot {@code id} lies inside the viewport.
     */
    static void assertFitsTheWindow(WebDriver driver, String id) {
        JavascriptExecutor js = (JavascriptExecutor) driver;
        long viewport = (Long) js.executeScript("return window.innerWidth;");
        assertThat(viewport).as("viewport width").isLessThanOrEqualTo(LAPTOP_WIDTH);
        assertThat((Long) js.executeScript("return document.documentElement.scrollWidth;")).as("document width")
                .isLessThanOrEqualTo(viewport);
        Map<String, Number> legend = rect(driver, driver.findElement(By.cssSelector("#" + id + "-side .legend")));
        assertThat(legend.get("left").doubleValue()).as("legend's left edge").isGreaterThanOrEqualTo(0);
        assertThat(legend.get("right").doubleValue()).as("legend's right edge").isLessThanOrEqualTo(viewport);
    }

    static void assertDrawn(WebDriver driver, List<AttributionEvent> events) {
        AttributionEvent.Accepted accepted = (AttributionEvent.Accepted) events.get(0);
        List<AttributionEvent.Token> tokens = tokens(events);
        AttributionEvent.Completed completed = last(events, AttributionEvent.Completed.class);
        assertThat(tokens).hasSize(completed.outputTokens().size()).isNotEmpty();

        List<Map<String, String>> cells = drawn(driver, "#heatmap rect.cell");
        Map<String, String> drawn = new HashMap<>();
        for (Map<String, String> cell : cells) {
            drawn.put(cell.get("tokenIndex") + "," + cell.get("featureIndex"), cell.get("value"));
        }
        assertThat(cells).hasSize(tokens.size() * accepted.features().size());
        for (AttributionEvent.Token t : tokens) {
            for (int f = 0; f < t.attr().size(); f++) {
                String value = drawn.get(t.index() + "," + f);
                assertThat(value).as("cell token %d feature %d", t.index(), f).isNotNull();
                assertThat(Double.parseDouble(value)).as("cell token %d feature %d", t.index(), f)
                        .isEqualTo(t.attr().get(f));
            }
        }
        Map<Integer, Double> bars = drawn(driver, "#seq-attr rect.seq-bar").stream()
                .collect(Collectors.toMap(DashboardBrowserTest::feature, DashboardBrowserTest::value));
        assertThat(bars).hasSize(completed.seqAttr().size());
        for (int f = 0; f < completed.seqAttr().size(); f++) {
            assertThat(bars.get(f)).isEqualTo(completed.seqAttr().get(f));
        }
    }
}
