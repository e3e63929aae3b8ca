"use strict";
const SVG = "http://www.w3.org/2000/svg";
const $ = id => document.getElementById(id);
let token = localStorage.getItem("llmAttribToken") || "";
let job = null;          // the job shown: its events, folded
let stream = null;       // AbortController of its event stream

// ---------- API ----------
/** A call of the gateway's API; whatever is not a GET says it sends JSON (the gateway refuses anything else). */
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers["Authorization"] = "Bearer " + token;
  if ((options.method || "GET") !== "GET") headers["Content-Type"] = "application/json";
  const response = await fetch(path, Object.assign({}, options, {headers}));
  if (response.status === 401) $("auth").style.display = "flex";
  return response;
}

/** Server-Sent Events over fetch (EventSource cannot send the bearer token). Resumes after a broken stream. */
async function followEvents(id, onEvent, signal) {
  let last = -1;
  while (!signal.aborted) {
    try {
      const query = last >= 0 ? "?last_event_id=" + last : "";
      const response = await api("/v1/jobs/" + encodeURIComponent(id) + "/events" + query, {signal});
      if (response.status === 404) { onEvent(null); await sleep(2000); continue; }
      if (!response.ok) { await sleep(2000); continue; }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
          if (!data) continue;
          const event = JSON.parse(data);
          last = event.seq;
          onEvent(event);
          if (event.type === "completed" || event.type === "failed") return;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    await sleep(1000);
  }
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

// ---------- navigation ----------
function navigate(path) { history.pushState(null, "", path); route(); }
window.addEventListener("popstate", route);
document.addEventListener("click", e => {
  const a = e.target.closest("a[data-nav]");
  if (a) { e.preventDefault(); navigate(a.getAttribute("href")); }
});

function route() {
  if (stream) stream.abort();
  const match = location.pathname.match(/^\/jobs\/(.+)$/);
  $("home-view").classList.toggle("hidden", !!match);
  $("job-view").classList.toggle("hidden", !match);
  if (match) openJob(decodeURIComponent(match[1]));
  refreshJobs();
}

// ---------- job list ----------
async function refreshJobs() {
  const response = await api("/v1/jobs?limit=100");
  if (!response.ok) return;
  const jobs = await response.json();
  const body = $("jobs");
  body.replaceChildren(...jobs.map(j => {
    const tr = document.createElement("tr");
    tr.dataset.jobId = j.job_id;
    if (job && job.id === j.job_id) tr.className = "current";
    const link = document.createElement("a");
    link.href = "/jobs/" + encodeURIComponent(j.job_id);
    link.dataset.nav = "";
    link.textContent = j.job_id;
    const name = document.createElement("td");
    name.append(link, document.createElement("br"),
                text((j.method || "") + (j.tokens ? " · " + count(j.tokens, "token") : "")));
    const status = document.createElement("td");
    status.className = "badge";
    status.append(statusBadge(j.status));
    tr.append(name, status);
    return tr;
  }));
}
function statusBadge(status) {
  const s = document.createElement("span");
  s.className = "status " + status;
  s.textContent = status;
  return s;
}
const text = s => document.createTextNode(s);
const count = (n, noun) => n.toLocaleString("en") + " " + noun + (n === 1 ? "" : "s");

// ---------- submit ----------
async function loadExamples() {
  const response = await api("/v1/examples");
  if (!response.ok) return;
  const examples = await response.json();
  for (const ex of examples) {
    const option = document.createElement("option");
    option.value = ex.name;
    option.textContent = ex.name;
    option.request = ex.request;
    $("example").append(option);
  }
}
$("example").addEventListener("change", () => {
  const option = $("example").selectedOptions[0];
  if (!option.request) return;
  const request = Object.assign({}, option.request, {job_id: option.value + "-" + Date.now().toString(36)});
  $("request").value = JSON.stringify(request, null, 2);
});
$("submit").addEventListener("click", async () => {
  $("submit-error").textContent = "";
  const response = await api("/v1/jobs", {method: "POST", body: $("request").value});
  const body = await response.json().catch(() => ({}));
  if (response.status === 202) {
    navigate("/jobs/" + encodeURIComponent(body.job_id));
  } else {
    $("submit-error").textContent = "HTTP " + response.status + ": " + (body.code || "") +
        (body.field ? " at " + body.field : "") + "\n" + (body.message || "");
  }
});
$("save-token").addEventListener("click", () => {
  token = $("token").value;
  localStorage.setItem("llmAttribToken", token);
  $("auth").style.display = "none";
  $("example").length = 1;
  loadExamples();
  route();
});
$("cancel").addEventListener("click", () => api("/v1/jobs/" + encodeURIComponent(job.id), {method: "DELETE"}));

// ---------- job page ----------
function openJob(id) {
  job = {id, accepted: null, tokens: [], completed: null, failed: null, missing: false};
  $("job-id").textContent = id;
  $("layer").replaceChildren();
  $("overview-token").replaceChildren();
  render();
  stream = new AbortController();
  followEvents(id, event => {
    if (event === null) { job.missing = true; }
    else { job.missing = false; fold(event); }
    scheduleRender();
  }, stream.signal);
}

function fold(event) {
  if (event.type === "accepted") job.accepted = event;
  else if (event.type === "token") job.tokens[event.index] = event;
  else if (event.type === "completed") job.completed = event;
  else if (event.type === "failed") job.failed = event;
  if (event.type !== "token") refreshJobs();
}

function status() {
  if (job.completed) return "completed";
  if (job.failed) return job.failed.code === "cancelled" ? "cancelled" : "failed";
  if (job.accepted) return "running";
  return job.missing ? "unknown" : "queued";
}

let renderPending = false;
function scheduleRender() {
  if (!renderPending) { renderPending = true; requestAnimationFrame(() => { renderPending = false; render(); }); }
}

function render() {
  const st = status();
  $("job-status").replaceWith(Object.assign(statusBadge(st), {id: "job-status"}));
  const a = job.accepted;
  $("job-meta").textContent = a ? [a.method, a.model, "worker " + a.worker].join(" · ") :
      (job.missing ? "no such job on the results topic (yet)" : "waiting for a worker");
  $("job-error").textContent = job.failed ? job.failed.code + (job.failed.field ? " at " + job.failed.field : "") +
      ": " + job.failed.message : "";
  $("cancel").disabled = st !== "running" && st !== "queued";
  updateLayers();
  $("overview-panel").classList.toggle("hidden", layerNames().length < 2);
  if (layerNames().length >= 2) replacePlot($("overview-box"), layersOverview());
  $("heatmap-orientation").textContent = $("transpose").checked
      ? "rows: input features · columns: target tokens (transposed, like the terminal heatmap of attrib submit and explain)"
      : "rows: target tokens · columns: input features (Captum's plot_token_attr layout; the terminal heatmap shows it transposed)";
  replacePlot($("heatmap-box"), tokenHeatmap());
  replacePlot($("seq-box"), seqBars());
  $("timings").textContent = job.completed ? costs(job.completed) : "";
}

/** "timings: queue 3.0 ms · ... · work: 4 batched forwards · 2 backwards · 104 rows · 523 GFLOP" */
function costs(c) {
  const timings = Object.entries(c.timings || {}).map(([k, v]) =>
      k.replace(/_ms$/, "").replace(/_/g, " ") + " " + v.toFixed(1) + " ms");
  const words = {forwards: "batched forwards"};
  const work = Object.entries(c.work || {}).map(([k, v]) =>
      k === "flops" ? si(v) + "FLOP" : v.toLocaleString("en") + " " + (words[k] || k.replace(/_/g, " ")));
  return "timings: " + timings.join(" · ") + (work.length ? " · work: " + work.join(" · ") : "");
}
function si(v) {
  const prefixes = ["", "k", "M", "G", "T", "P", "E"];
  const p = Math.max(0, Math.min(prefixes.length - 1, Math.floor(Math.log10(Math.abs(v) || 1) / 3)));
  return (v / 10 ** (3 * p)).toPrecision(3) + " " + prefixes[p];
}

function received() { return job.tokens.filter(Boolean); }

// ---------- layers ----------
/** A decoder layer's taps in forward order (LlamaModel's tap names); "" is the layer's output, model.layers.N. */
const LAYER_TAPS = ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                    "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "mlp", ""];
/** Where a tap runs in the forward: the embeddings, then each decoder layer's taps, then the final norm. */
function tapRank(name) {
  if (name === "model.embed_tokens") return [-1, 0];
  const m = name.match(/^model\.layers\.(\d+)(?:\.(.+))?$/);
  return m ? [Number(m[1]), LAYER_TAPS.indexOf(m[2] || "")] : [Infinity, 0];
}
/** The job's layers (the keys of its token events' layers), in model order. */
function layerNames() {
  const first = received().find(t => t.layers);
  if (!first) return [];
  return Object.keys(first.layers).sort((x, y) => {
    const [a, b] = [tapRank(x), tapRank(y)];
    return a[0] - b[0] || a[1] - b[1];
  });
}
/** model.layers.3.self_attn.q_proj as "layer 3 · q_proj", short enough to stay whole as a row label. */
function shortTap(name) {
  const m = name.match(/^model\.layers\.(\d+)(?:\.(.+))?$/);
  if (!m) return name.replace(/^model\./, "");
  return "layer " + m[1] + " · " + (m[2] ? m[2].replace(/^self_attn\./, "").replace(/^mlp\./, "mlp.") : "output");
}

function updateLayers() {
  const names = layerNames();
  $("layer-choice").classList.toggle("hidden", names.length === 0);
  if (names.length && !$("layer").length) {
    $("layer").append(...names.map(name => option(name, name)));
  }
  // the overview's target-token choice: the sequence, or one target token's row of each tap
  const choice = $("overview-token");
  const tokens = received();
  if (names.length && choice.length !== tokens.length + 1) {
    const chosen = choice.value;
    choice.replaceChildren(option("", "all: sequence attribution"),
        ...tokens.map(t => option(String(t.index), "#" + t.index + " " + label(t.token, 20))));
    choice.value = chosen;
  }
}
function option(value, textContent) { return Object.assign(document.createElement("option"), {value, textContent}); }
$("layer").addEventListener("change", render);
$("transpose").addEventListener("change", render);
$("overview-token").addEventListener("change", render);

function selectedLayer() { return $("layer-choice").classList.contains("hidden") ? null : $("layer").value; }
function rowOf(t) { const layer = selectedLayer(); return layer && t.layers ? t.layers[layer] : t.attr; }
function igOf(t) {
  if (!t.ig) return null;
  const layer = selectedLayer();
  return t.ig[layer] || t.ig.joint || Object.values(t.ig)[0];
}

/**
 * The multi-layer overview: one row per tap in model order, one column per feature; each cell is the
 * tap's sequence attribution of the feature (layers_seq_attr), or one target token's row of the tap.
 * Clicking a row shows that tap's token × feature heatmap.
 */
function layersOverview() {
  const taps = layerNames();
  const chosen = $("overview-token").value;
  const t = chosen === "" ? null : job.tokens[Number(chosen)];
  const rowsOf = t ? t.layers : job.completed && job.completed.layers_seq_attr;
  if (!rowsOf) return text("the sequence attribution of each tap, once the job completes (or choose a target token)");
  const features = job.accepted.features;
  const cells = taps.flatMap((tap, r) => rowsOf[tap].map((value, f) => ({row: r, col: f, value,
      data: Object.assign({layer: tap, "feature-index": f}, t ? {"token-index": t.index} : {}),
      title: `${tap} ← ${label(features[f], 40)}${t ? " for #" + t.index + " " + label(t.token, 20) : ""}: ${value}`})));
  return matrixPlot({id: "layers-overview", rowLabels: taps.map(shortTap), rowTitles: taps, colLabels: features,
      cells, cellHeight: 20, legendTitle: t ? "Token Attribution" : "Sequence Attribution",
      selectedRow: taps.indexOf(selectedLayer()), onRow: r => showTap(taps[r])});
}
function showTap(tap) {
  $("layer").value = tap;
  render();
  $("heatmap-panel").scrollIntoView({block: "start"});
}

// ---------- plots ----------
// Captum's RdYlGn colour map, centred on 0: red negative, green positive
const RDYLGN = ["#a50026", "#d73027", "#f46d43", "#fdae61", "#fee08b", "#ffffbf",
                "#d9ef8b", "#a6d96a", "#66bd63", "#1a9850", "#006837"].map(h =>
                [1, 3, 5].map(i => parseInt(h.slice(i, i + 2), 16)));
function norm(value, vmax) { return vmax > 0 ? (value / vmax + 1) / 2 : 0.5; }
function colour(n) {
  const x = Math.min(1, Math.max(0, n)) * (RDYLGN.length - 1);
  const i = Math.min(RDYLGN.length - 2, Math.floor(x));
  const f = x - i;
  return "rgb(" + RDYLGN[i].map((c, k) => Math.round(c + (RDYLGN[i + 1][k] - c) * f)).join(",") + ")";
}
function label(s, max = 24) {
  const shown = String(s).replace(/\n/g, "\\n");
  return shown.length > max ? shown.slice(0, max - 1) + "…" : shown;
}
/** Upper bound of the width of {@code n} characters of 11 px sans-serif. */
const textWidth = n => 7 * n;
function el(name, attrs, ...children) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  e.append(...children);
  return e;
}
function hover(node, title) {
  node.addEventListener("mousemove", e => tip(e, title));
  node.addEventListener("mouseleave", () => tip(null));
  return node;
}
/** Puts a plot in its box, keeping where the old one was scrolled to. */
function replacePlot(box, plot) {
  const old = box.querySelector(".plot-scroll") || box;
  const left = old.scrollLeft;
  box.replaceChildren(plot);
  (box.querySelector(".plot-scroll") || box).scrollLeft = left;
}

/**
 * A matrix of coloured cells in Captum's plot_token_attr style (RdYlGn centred on 0, values to 4
 * places): an SVG {@code #id} with the labels and cells, which scrolls sideways inside its card, and
 * beside it an SVG {@code #id-side} with the optional side column (one text per row) and the legend,
 * always in view. Cells: {row, col, value, data (data-* attributes), title}; side: {row, text, cls, data, title}.
 */
function matrixPlot({id, rowLabels, rowTitles = rowLabels, colLabels, cells, cellHeight = 24, side = [],
                     sideTitle = "", legendTitle, status = "", selectedRow = -1, onRow = null}) {
  const vmax = cells.reduce((m, c) => Math.max(m, Math.abs(c.value)), 0);
  const cw = 62, ch = cellHeight, lh = Math.max(rowLabels.length * ch, 120);  // lh: the legend's height
  const left = 14 + textWidth(Math.max(4, ...rowLabels.map(s => label(s).length)));
  const colText = textWidth(Math.max(4, ...colLabels.map(s => label(s).length)));
  const top = 20 + Math.ceil(colText / 2);  // the column labels rise at 30°
  const width = left + colLabels.length * cw + Math.max(0, Math.ceil(colText * 0.87) - cw / 2) + 8;
  const height = top + lh + 10;
  const svg = el("svg", {id, xmlns: SVG, width, height, viewBox: `0 0 ${width} ${height}`, "font-family": "sans-serif",
                         "font-size": "11", "data-status": status, "data-vmax": String(vmax)});
  svg.append(el("rect", {x: 0, y: 0, width, height, fill: "#ffffff"}));
  colLabels.forEach((s, c) => {
    const x = left + c * cw + cw / 2;
    svg.append(el("text", {class: "col-label", x, y: top - 6, "text-anchor": "start", transform: `rotate(-30 ${x} ${top - 6})`,
        fill: "#222"}, label(s), el("title", {}, String(s))));
  });
  const clickable = onRow ? "clickable " : "";
  rowLabels.forEach((s, r) => {
    const rowLabel = el("text", {class: clickable + "row-label", x: left - 6, y: top + r * ch + ch / 2 + 4, "text-anchor": "end",
        fill: "#222", "data-row": r}, label(s), el("title", {}, String(rowTitles[r])));
    if (onRow) rowLabel.addEventListener("click", () => onRow(r));
    svg.append(rowLabel);
  });
  for (const c of cells) {
    const x = left + c.col * cw, y = top + c.row * ch, n = norm(c.value, vmax);
    const data = Object.fromEntries(Object.entries(c.data).map(([k, v]) => ["data-" + k, String(v)]));
    const cell = hover(el("rect", Object.assign({class: clickable + "cell", x, y, width: cw - 1, height: ch - 1,
        fill: colour(n), "data-value": String(c.value)}, data), el("title", {}, c.title)), c.title);
    if (onRow) cell.addEventListener("click", () => onRow(c.row));
    svg.append(cell, el("text", {x: x + cw / 2, y: y + ch / 2 + 4, "text-anchor": "middle", "pointer-events": "none",
        fill: n > 0.2 && n < 0.8 ? "#000" : "#fff"}, c.value.toFixed(4)));
  }
  if (selectedRow >= 0) {
    svg.append(el("rect", {class: "selected-row", x: left - 1, y: top + selectedRow * ch - 1, width: colLabels.length * cw + 1,
        height: ch + 1, fill: "none", stroke: "#1f2933", "stroke-width": 2, "pointer-events": "none"}));
  }
  // beside it: the side column, then the colour scale centred on 0 with its legend
  const sw = side.length ? 86 : 0, lx = sw + 12, sideWidth = lx + 86;
  const aside = el("svg", {id: id + "-side", xmlns: SVG, width: sideWidth, height, viewBox: `0 0 ${sideWidth} ${height}`,
                           "font-family": "sans-serif", "font-size": "11"});
  aside.append(el("rect", {x: 0, y: 0, width: sideWidth, height, fill: "#ffffff"}));
  if (side.length) aside.append(el("text", {x: 4, y: top - 6, fill: "#444"}, sideTitle));
  for (const s of side) {
    const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => ["data-" + k, String(v)]));
    aside.append(el("text", Object.assign({class: s.cls, x: 4, y: top + s.row * ch + ch / 2 + 4, fill: "#444"}, data),
        s.text, el("title", {}, s.title)));
  }
  const grad = el("linearGradient", {id: id + "-scale", x1: 0, y1: 1, x2: 0, y2: 0});
  RDYLGN.forEach((c, i) => grad.append(el("stop", {offset: i / (RDYLGN.length - 1), "stop-color": `rgb(${c.join(",")})`})));
  const legend = el("g", {class: "legend"}, el("rect", {x: lx, y: top, width: 14, height: lh, fill: `url(#${id}-scale)`,
      stroke: "#999"}));
  [[vmax, 0], [0, 0.5], [-vmax, 1]].forEach(([v, f]) => legend.append(el("text", {x: lx + 18, y: top + f * lh + 4,
      fill: "#222"}, (v > 0 ? "+" : "") + v.toPrecision(3))));
  legend.append(el("text", {x: lx + 70, y: top + lh / 2, transform: `rotate(90 ${lx + 70} ${top + lh / 2})`,
      "text-anchor": "middle", fill: "#222"}, legendTitle));
  aside.append(el("defs", {}, grad), legend);
  const scroll = document.createElement("div");
  scroll.className = "plot-scroll";
  scroll.append(svg);
  const plot = document.createElement("div");
  plot.className = "plot";
  plot.append(scroll, aside);
  return plot;
}

/**
 * The token × feature heatmap. By default Captum's plot_token_attr layout (features as columns with
 * their labels on top, target tokens as rows); "target tokens as columns" transposes it.
 */
function tokenHeatmap() {
  const a = job.accepted;
  const features = a ? a.features : [];
  const targets = (job.completed && job.completed.output_tokens) || (a && a.target_tokens) ||
      received().map(t => t.token);
  const tokens = received();
  const transposed = $("transpose").checked;
  const layer = selectedLayer();
  const cells = tokens.flatMap(t => rowOf(t).map((value, f) => ({row: transposed ? f : t.index,
      col: transposed ? t.index : f, value,
      data: Object.assign({"token-index": t.index, "feature-index": f}, layer ? {layer} : {}),
      title: `${label(t.token, 40)} (#${t.index}) ← ${label(features[f], 40)}: ${value}`})));
  const side = transposed ? [] : tokens.filter(igOf).map(t => {
    const delta = igOf(t).delta;
    return {row: t.index, text: "δ " + delta.toExponential(2), cls: "ig-delta",
            data: {"token-index": t.index, value: delta}, title: "IG completeness delta: " + String(delta)};
  });
  return matrixPlot({id: "heatmap", rowLabels: transposed ? features : targets, colLabels: transposed ? targets : features,
      cells, side, sideTitle: "IG delta", legendTitle: "Token Attribution", status: status()});
}

/** Captum's plot_seq_attr: one bar per feature, green positive, red negative. */
function seqBars() {
  const a = job.accepted, c = job.completed;
  if (!a || !c) return text(a ? "once the job completes" : "");
  const layer = selectedLayer();
  const values = layer && c.layers_seq_attr ? c.layers_seq_attr[layer] : c.seq_attr;
  const vmax = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
  const labelMax = 60, longest = textWidth(Math.max(4, ...a.features.map(s => label(s, labelMax).length)));
  const bw = 62, left = 60, top = 16, h = 160;
  // the labels fall at 30° from under their bar: room for the last one on the right, for the longest below
  const width = left + values.length * bw - bw / 2 + Math.ceil(longest * 0.87) + 8;
  const height = top + h + 12 + Math.ceil(longest / 2) + 12;
  const svg = el("svg", {id: "seq-attr", width, height, "font-family": "sans-serif", "font-size": "11"});
  const zero = top + h / 2;
  svg.append(el("line", {x1: left, x2: left + values.length * bw, y1: zero, y2: zero, stroke: "#888"}));
  values.forEach((v, i) => {
    const bh = Math.abs(v) / vmax * (h / 2);
    const x = left + i * bw + 6;
    const title = `${label(a.features[i], 40)}: ${String(v)}`;
    const bar = hover(el("rect", {class: "seq-bar", x, y: v >= 0 ? zero - bh : zero, width: bw - 12,
        height: Math.max(bh, 0.5), fill: v >= 0 ? "#1a9850" : "#d73027", "data-feature-index": i, "data-value": String(v)},
        el("title", {}, title)), title);
    const lx = left + i * bw + bw / 2, ly = top + h + 12;
    svg.append(bar, el("text", {class: "bar-label", x: lx, y: ly, transform: `rotate(30 ${lx} ${ly})`, fill: "#222"},
        label(a.features[i], labelMax), el("title", {}, String(a.features[i]))));
  });
  svg.append(el("text", {x: 4, y: top + 4, fill: "#222"}, "+" + vmax.toPrecision(3)),
             el("text", {x: 4, y: top + h, fill: "#222"}, "-" + vmax.toPrecision(3)));
  return svg;
}

function tip(e, content) {
  const t = $("tooltip");
  if (!e) { t.style.display = "none"; return; }
  t.textContent = content;
  t.style.display = "block";
  t.style.left = (e.clientX + 12) + "px";
  t.style.top = (e.clientY + 12) + "px";
}

// ---------- export ----------
/** The heatmap as one SVG: the matrix with its side column and legend to the right. */
function exported() {
  const matrix = $("heatmap").cloneNode(true), side = $("heatmap-side").cloneNode(true);
  const w = Number(matrix.getAttribute("width")), width = w + Number(side.getAttribute("width"));
  const height = Number(matrix.getAttribute("height"));
  side.setAttribute("x", w);
  return {width, height, svg: new XMLSerializer().serializeToString(el("svg", {xmlns: SVG, width, height,
      viewBox: `0 0 ${width} ${height}`}, matrix, side))};
}
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
$("export-svg").addEventListener("click", () =>
  download(new Blob([exported().svg], {type: "image/svg+xml"}), job.id + "-token-attr.svg"));
$("export-png").addEventListener("click", () => {
  const {width, height, svg} = exported();
  const image = new Image();
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = width * 2;
    canvas.height = height * 2;
    const g = canvas.getContext("2d");
    g.scale(2, 2);
    g.drawImage(image, 0, 0);
    canvas.toBlob(blob => download(blob, job.id + "-token-attr.png"), "image/png");
  };
  image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
});

loadExamples();
route();
setInterval(refreshJobs, 2000);
