package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.QueueMode;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
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

    static EmbeddedKafka kafka;
    static AttributionWorker worker;
    static Gateway gateway;

    @BeforeAll
    static void start() throws InterruptedException {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "SKIPPED: the browser test needs Debian's chromium and chromium-driver "
                        + "(apt-get install -y chromium chromium-driver; .ci/run installs them)");
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(3);
        worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", "browser-workers", null, 0, null, Limits.cpu(), Map.of(),
                QueueMode.SHARE, 3));
        gateway = Gateway.start(GatewayConfig.local(kafka.bootstrapServers()));
        assertThat(gateway.awaitReady(Duration.ofSeconds(30))).isTrue();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
            worker.close();
            kafka.close();
        }
    }

    static WebDriver chromium(Path profile) {
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile()).addArguments("--headless",
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        WebDriver driver = new ChromeDriver(service, options);
        driver.manage().window().setSize(new Dimension(1500, 1000));
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
            // the job list shows it, completed
            wait.until(d -> d.findElement(By.cssSelector("#jobs tr[data-job-id='" + jobId + "'] .status")).getText()
                    .equals("completed"));
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

    @Test
    void aGradientJobHasALayerSelectorAndEachTokensIgDelta(@TempDir Path profile) throws Exception {
        String jobId = "browser-lig-multilayer";
        ObjectNode request = (ObjectNode) Examples.read("seed-lig-multilayer");
        request.put("job_id", jobId);
        GatewayClient client = new GatewayClient(URI.create(gateway.url()), null);
        assertThat(client.submit(Protocol.JSON.writeValueAsBytes(request)).statusCode()).isEqualTo(202);
        List<AttributionEvent> events = streamed(jobId);
        List<AttributionEvent.Token> tokens = events.stream().filter(AttributionEvent.Token.class::isInstance)
                .map(AttributionEvent.Token.class::cast).toList();
        WebDriver driver = chromium(profile);
        try {
            driver.get(gateway.url() + "jobs/" + jobId);
            new WebDriverWait(driver, Duration.ofSeconds(60))
                    .until(ExpectedConditions.presenceOfElementLocated(COMPLETED_HEATMAP));
            Select layers = new Select(driver.findElement(By.id("layer")));
            assertThat(layers.getOptions()).extracting(WebElement::getText)
                    .containsExactlyElementsOf(tokens.get(0).layers().keySet());
            for (String layer : tokens.get(0).layers().keySet()) {
                layers.selectByValue(layer);
                for (WebElement cell : driver.findElements(By.cssSelector("#heatmap rect.cell"))) {
                    AttributionEvent.Token t = tokens.get(Integer.parseInt(cell.getAttribute("data-token-index")));
                    int f = Integer.parseInt(cell.getAttribute("data-feature-index"));
                    assertThat(Double.parseDouble(cell.getAttribute("data-value"))).as(layer)
                            .isEqualTo(t.layers().get(layer).get(f));
                }
                List<WebElement> deltas = driver.findElements(By.cssSelector("#heatmap text.ig-delta"));
                assertThat(deltas).hasSize(tokens.size());
                for (WebElement delta : deltas) {
                    AttributionEvent.Token t = tokens.get(Integer.parseInt(delta.getAttribute("data-token-index")));
                    assertThat(Double.parseDouble(delta.getAttribute("data-value"))).as(layer)
                            .isEqualTo(t.ig().get(layer).delta());
                }
            }
        } finally {
            driver.quit();
        }
    }

    @Test
    void theJobListCountsOneTokenInTheSingular(@TempDir Path profile) throws Exception {
        Map<String, String> jobs = Map.of("browser-one-token", " golf", "browser-two-tokens", " golf,");
        GatewayClient client = new GatewayClient(URI.create(gateway.url()), null);
        for (Map.Entry<String, String> job : jobs.entrySet()) {
            ObjectNode request = (ObjectNode) Examples.read("seed-token-feature-ablation");
            request.put("job_id", job.getKey()).put("target", job.getValue());
            assertThat(client.submit(Protocol.JSON.writeValueAsBytes(request)).statusCode()).isEqualTo(202);
            assertThat(streamed(job.getKey())).last().isInstanceOf(AttributionEvent.Completed.class);
        }
        WebDriver driver = chromium(profile);
        try {
            driver.get(gateway.url());
            WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
            for (String job : jobs.keySet()) {
                By row = By.cssSelector("#jobs tr[data-job-id='" + job + "'] td");
                wait.until(d -> d.findElement(row).getText().contains("·"));
                assertThat(driver.findElement(row).getText()).endsWith(job.equals("browser-one-token")
                        ? "feature_ablation · 1 token" : "feature_ablation · 2 tokens");
            }
        } finally {
            driver.quit();
        }
    }

    /** The job's events, read from Kafka with the Java client: independent of the gateway. */
    static List<AttributionEvent> streamed(String jobId) {
        try (AttributionClient client = new AttributionClient(kafka.bootstrapServers());
                var events = client.events(jobId, Duration.ofSeconds(30))) {
            return events.toList();
        }
    }

    static void assertDrawn(WebDriver driver, List<AttributionEvent> events) {
        AttributionEvent.Accepted accepted = (AttributionEvent.Accepted) events.get(0);
        List<AttributionEvent.Token> tokens = events.stream().filter(AttributionEvent.Token.class::isInstance)
                .map(AttributionEvent.Token.class::cast).toList();
        AttributionEvent.Completed completed = (AttributionEvent.Completed) events.get(events.size() - 1);
        assertThat(tokens).hasSize(completed.outputTokens().size()).isNotEmpty();

        List<WebElement> cells = driver.findElements(By.cssSelector("#heatmap rect.cell"));
        Map<String, String> drawn = new HashMap<>();
        for (WebElement cell : cells) {
            drawn.put(cell.getAttribute("data-token-index") + "," + cell.getAttribute("data-feature-index"),
                    cell.getAttribute("data-value"));
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
        Map<Integer, Double> bars = driver.findElements(By.cssSelector("#seq-attr rect.seq-bar")).stream()
                .collect(Collectors.toMap(b -> Integer.parseInt(b.getAttribute("data-feature-index")),
                        b -> Double.parseDouble(b.getAttribute("data-value"))));
        assertThat(bars).hasSize(completed.seqAttr().size());
        for (int f = 0; f < completed.seqAttr().size(); f++) {
            assertThat(bars.get(f)).isEqualTo(completed.seqAttr().get(f));
        }
    }
}
