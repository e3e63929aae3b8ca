#!/usr/bin/env python3
"""A client of the llm-attrib HTTP gateway for event-driven pipelines, standard library only.

Submits an attribution request (POST /v1/jobs), follows the job's Server-Sent Events
(GET /v1/jobs/{id}/events) as the worker streams them, one event per target token, and turns
the finished job into Captum's LLMAttributionResult layout:

    input_tokens   the features (prompt tokens, template values or segments)
    output_tokens  the target tokens
    token_attr     one row per target token, one column per feature
    seq_attr       one number per feature (the attribution of the whole target)

It writes them to OUT/result.json and OUT/token_attr.csv, and, when matplotlib is importable
(Debian: apt-get install python3-matplotlib), plots the token attribution as Captum's
plot_token_attr does to OUT/token_attr.png. With Captum and torch installed:

    r = json.load(open("OUT/result.json"))
    LLMAttributionResult(seq_attr=torch.tensor(r["seq_attr"]), token_attr=torch.tensor(r["token_attr"]),
                         input_tokens=r["input_tokens"], output_tokens=r["output_tokens"]).plot_token_attr()

    python3 docs/python/attrib_client.py --gateway http://127.0.0.1:8080/ \\
        protocol/src/main/resources/examples/seed-template-shapley.json --out out/
"""
import argparse
import csv
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Gateway:
    """The gateway's HTTP API: submit a request, follow a job's events."""

    def __init__(self, base_url, token=None):
        self.base = base_url if base_url.endswith("/") else base_url + "/"
        self.token = token

    def _request(self, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        if body is not None:
            headers["Content-Type"] = "application/json"  # the gateway takes JSON only
        return urllib.request.Request(urllib.parse.urljoin(self.base, path), data=body, headers=headers,
                                      method="POST" if body is not None else "GET")

    def submit(self, request):
        """POST /v1/jobs: the job id (the request's, or the one the gateway generated)."""
        body = json.dumps(request).encode("utf-8")
        try:
            with urllib.request.urlopen(self._request("v1/jobs", body)) as response:
                return json.load(response)["job_id"]
        except urllib.error.HTTPError as e:
            error = json.loads(e.read().decode("utf-8") or "{}")
            raise SystemExit("the gateway refused the request: HTTP %d %s%s: %s" % (
                e.code, error.get("code", ""), " at " + error["field"] if error.get("field") else "",
                error.get("message", "")))

    def events(self, job_id, timeout=600):
        """The job's events as dicts, in seq order, each once, until `completed` or `failed`.

        Replays the job from its first event, then follows it live; a broken stream resumes after
        the last event received (Last-Event-ID). Gives up after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last = -1
        path = "v1/jobs/%s/events" % urllib.parse.quote(job_id, safe="")
        while time.monotonic() < deadline:
            headers = {"Accept": "text/event-stream"}
            if last >= 0:
                headers["Last-Event-ID"] = str(last)
            try:
                with urllib.request.urlopen(self._request(path, headers=headers),
                                            timeout=max(1, deadline - time.monotonic())) as stream:
                    for event in _server_sent_events(stream):
                        if event["seq"] <= last:
                            continue  # each seq once, as the gateway sends it
                        last = event["seq"]
                        yield event
                        if event["type"] in ("completed", "failed"):
                            return
            except urllib.error.HTTPError as e:
                if e.code != 404:  # 404: the gateway has not read the job's first event yet
                    raise
            except (urllib.error.URLError, OSError):
                pass  # a broken connection: resume after the last event
            time.sleep(1)
        raise TimeoutError("job %s did not end within %d s" % (job_id, timeout))


def _server_sent_events(stream):
    """The `data:` payloads of a text/event-stream, decoded as JSON."""
    data = []
    for raw in stream:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield json.loads("\n".join(data))
            data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)


class Job:
    """A job's events folded into Captum's LLMAttributionResult layout."""

    def __init__(self):
        self.input_tokens = []
        self.output_tokens = []
        self.token_attr = []   # [target token][feature]; gradient methods: the first requested layer's
        self.seq_attr = None   # [feature]
        self.failed = None

    def add(self, event):
        kind = event["type"]
        if kind == "accepted":
            self.input_tokens = event["features"]
        elif kind == "token":
            i = event["index"]
            self.token_attr[len(self.token_attr):i + 1] = [None] * (i + 1 - len(self.token_attr))
            self.token_attr[i] = event["attr"]
        elif kind == "completed":
            self.output_tokens = event["output_tokens"]
            self.seq_attr = event["seq_attr"]
        elif kind == "failed":
            self.failed = event

    def result(self):
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "token_attr": self.token_attr, "seq_attr": self.seq_attr}


def write_csv(path, result):
    """token_attr as CSV: a header of the features, then one row per target token (numbers exactly as sent)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["target token"] + result["input_tokens"])
        for token, row in zip(result["output_tokens"], result["token_attr"]):
            out.writerow([token] + [repr(v) for v in row])


def plot(path, result):
    """Captum's plot_token_attr: features as columns, target tokens as rows, RdYlGn centred on 0.
    Returns False when matplotlib is not importable."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    data = result["token_attr"]
    vmax = max((abs(v) for row in data for v in row), default=0) or 1
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(result["input_tokens"]) + 2),
                                    max(3, 0.45 * len(data) + 2)))
    image = ax.imshow(data, cmap="RdYlGn", vmin=-vmax, vmax=vmax, aspect="auto")
    fig.colorbar(image, ax=ax, label="Token Attribution")
    ax.set_xticks(range(len(result["input_tokens"])), labels=result["input_tokens"], rotation=45,
                  ha="left", rotation_mode="anchor")
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(result["output_tokens"])), labels=result["output_tokens"])
    for i, row in enumerate(data):
        for j, v in enumerate(row):
            ax.text(j, i, "%.4f" % v, ha="center", va="center", fontsize=8,
                    color="black" if abs(v) < 0.6 * vmax else "white")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("request", help="an attribution-request/v1 JSON file")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080/", help="the gateway's URL (%(default)s)")
    parser.add_argument("--token", default=os.environ.get("LLM_ATTRIB_GATEWAY_TOKEN"),
                        help="the gateway's bearer token (default: $LLM_ATTRIB_GATEWAY_TOKEN)")
    parser.add_argument("--job-id", help="the job id to submit under (default: the request's)")
    parser.add_argument("--out", default=".", help="where result.json, token_attr.csv and token_attr.png go")
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for the job (%(default)s)")
    args = parser.parse_args()

    with open(args.request, encoding="utf-8") as f:
        request = json.load(f)
    if args.job_id:
        request["job_id"] = args.job_id
    gateway = Gateway(args.gateway, args.token)
    job_id = gateway.submit(request)
    print("submitted %s" % job_id, flush=True)

    job = Job()
    for event in gateway.events(job_id, args.timeout):
        job.add(event)  # a pipeline reacts here, per token, as the numbers arrive
        if event["type"] == "token":
            print("token %d %r: log p %.4f" % (event["index"], event["token"], event["log_prob"]), flush=True)
    if job.failed:
        f = job.failed
        sys.exit("job %s failed: %s%s: %s" % (job_id, f["code"], " at " + f["field"] if f.get("field") else "",
                                             f["message"]))

    os.makedirs(args.out, exist_ok=True)
    result = job.result()
    with open(os.path.join(args.out, "result.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    write_csv(os.path.join(args.out, "token_attr.csv"), result)
    print("wrote %s and %s (%d target tokens x %d features)" % (
        os.path.join(args.out, "result.json"), os.path.join(args.out, "token_attr.csv"),
        len(result["token_attr"]), len(result["input_tokens"])))
    png = os.path.join(args.out, "token_attr.png")
    if plot(png, result):
        print("plotted %s" % png)
    else:
        print("matplotlib is not importable: no plot, token_attr.csv has the matrix "
              "(Debian: apt-get install python3-matplotlib)")


if __name__ == "__main__":
    main()
