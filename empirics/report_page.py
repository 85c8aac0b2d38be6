"""The neuron browser's page: HTML, CSS and JavaScript, inlined by `empirics.report`.

`__TITLE__` is replaced by the escaped title and `__DATA__` by the payload as JSON in which
every <, > and & is a \\u escape, inside a non-executed application/json script element. The
script builds every element with the DOM (textContent, never innerHTML), renders one page of
rows at a time and a neuron's examples only when it is opened, so a report of 10,000 neurons
opens fast (docs/report.md). The content security policy forbids every network request.
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:;
      style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>__TITLE__</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; }
#controls { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin: .5em 0; }
table { border-collapse: collapse; }
th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right; }
th { cursor: pointer; background: #f3f3f3; position: sticky; top: 0; user-select: none; }
th.sorted-asc::after { content: " \25B2"; } th.sorted-desc::after { content: " \25BC"; }
tr.row { cursor: pointer; } tr.row:hover { background: #eef5ff; }
tr.row.selected { background: #d6e8ff; }
td.kind-0 { color: #0a6; } td.kind-1 { color: #999; }
#detail { margin-top: 1em; }
#columns { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(18em, 1fr);
           gap: 1em; overflow-x: auto; }
.model h3 { font-size: 1em; margin: .2em 0; }
.example { margin: 2px 0; padding: 2px 4px; border-left: 3px solid #ddd;
           white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, monospace;
           font-size: 12px; }
.value { color: #555; margin-right: .6em; }
mark { background: #ffd54d; }
.images { display: flex; flex-wrap: wrap; gap: 6px; }
figure { margin: 0; text-align: center; font-size: 11px; }
canvas { width: 112px; height: 112px; image-rendering: auto; border: 1px solid #ccc; }
.muted { color: #888; }
</style>
</head>
<body>
<h1 id="title"></h1>
<p id="summary" class="muted"></p>
<div id="controls">
  <label>show <select id="kind">
    <option value="all">all</option><option value="0">Rosetta</option>
    <option value="1">contrast</option></select></label>
  <label>layer <select id="layer"><option value="all">all</option></select></label>
  <label>min r <input id="min-r" type="number" step="0.05" size="5"></label>
  <label id="sel-label">min <span id="sel-name"></span>
    <input id="min-sel" type="number" step="0.5" size="5"></label>
  <button id="prev">&larr; prev</button> <span id="page"></span>
  <button id="next">next &rarr;</button>
</div>
<table id="rows"><thead><tr id="head"></tr></thead><tbody id="body"></tbody></table>
<div id="detail"></div>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const N = D.rowKind.length, M = D.models.length, PAGE_SIZE = 100, CONTEXT = 60, SPAN = 300;
const KIND = ["Rosetta", "contrast"];
const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
};
const fmt = (v, d) => (v === null || v === undefined) ? "" : Number(v).toFixed(d);
const rowR = new Float64Array(N).fill(NaN);
for (let i = 0; i < N; i++) {
  for (let m = 1; m < M; m++) {
    const r = D.r[m][i];
    if (r !== null && !(rowR[i] <= r)) rowR[i] = r;  // the weakest link of the row
  }
}
const rowSel = D.metrics.map(name => {
  const out = new Float64Array(N).fill(NaN);
  for (let i = 0; i < N; i++) {
    let sum = 0, count = 0;
    for (let m = 0; m < M; m++) {
      const v = D.selectivity[name][m][i];
      if (v !== null) { sum += v; count++; }
    }
    if (count) out[i] = sum / count;
  }
  return out;
});
const unitText = (m, i) =>
  D.layers[m][i] < 0 ? "" : "L" + D.layers[m][i] + " u" + D.unitsInLayer[m][i];
const columns = [{name: "#", key: i => i, text: i => i},
  {name: "kind", key: i => D.rowKind[i], text: i => KIND[D.rowKind[i]]}];
D.models.forEach((name, m) => columns.push(
  {name: name, key: i => D.layers[m][i] * 1e9 + D.unitsInLayer[m][i], text: i => unitText(m, i)}));
columns.push({name: "r", key: i => rowR[i], text: i => isNaN(rowR[i]) ? "" : rowR[i].toFixed(3)});
D.metrics.forEach((name, s) => columns.push(
  {name: name, key: i => rowSel[s][i],
   text: i => isNaN(rowSel[s][i]) ? "" : rowSel[s][i].toFixed(2)}));
const state = {sort: 3 + M - 1, desc: true, page: 0, order: [], selected: -1};

function buildHead() {
  const head = document.getElementById("head");
  columns.forEach((col, c) => {
    const th = el("th", col.name);
    th.dataset.column = c;
    th.addEventListener("click", () => {
      state.desc = state.sort === c ? !state.desc : c >= 2;
      state.sort = c; state.page = 0; update();
    });
    head.appendChild(th);
  });
  const layer = document.getElementById("layer");
  D.models.forEach((name, m) => {
    const seen = new Set(D.layers[m].filter(l => l >= 0));
    [...seen].sort((a, b) => a - b).forEach(l => {
      const option = el("option", name + " L" + l);
      option.value = m + ":" + l;
      layer.appendChild(option);
    });
  });
  if (!D.metrics.length) document.getElementById("sel-label").style.display = "none";
  else document.getElementById("sel-name").textContent = D.metrics[0];
}

function filtered() {
  const kind = document.getElementById("kind").value;
  const layer = document.getElementById("layer").value;
  const minR = parseFloat(document.getElementById("min-r").value);
  const minSel = parseFloat(document.getElementById("min-sel").value);
  const [lm, ll] = layer === "all" ? [-1, -1] : layer.split(":").map(Number);
  const keep = [];
  for (let i = 0; i < N; i++) {
    if (kind !== "all" && D.rowKind[i] !== Number(kind)) continue;
    if (lm >= 0 && D.layers[lm][i] !== ll) continue;
    if (!isNaN(minR) && !(rowR[i] >= minR)) continue;
    if (!isNaN(minSel) && D.metrics.length && !(rowSel[0][i] >= minSel)) continue;
    keep.push(i);
  }
  const key = columns[state.sort].key, sign = state.desc ? -1 : 1;
  const values = new Float64Array(N);
  keep.forEach(i => { const v = key(i); values[i] = isNaN(v) ? Infinity * sign : v; });
  keep.sort((a, b) => sign * (values[a] - values[b]) || a - b);
  return keep;
}

function update() {
  state.order = filtered();
  const pages = Math.max(1, Math.ceil(state.order.length / PAGE_SIZE));
  state.page = Math.min(state.page, pages - 1);
  document.getElementById("page").textContent =
    "page " + (state.page + 1) + " of " + pages + " (" + state.order.length + " rows)";
  document.querySelectorAll("#head th").forEach((th, c) => {
    th.className = c === state.sort ? (state.desc ? "sorted-desc" : "sorted-asc") : "";
  });
  const body = document.getElementById("body");
  body.replaceChildren();
  for (const i of state.order.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE)) {
    const tr = el("tr", undefined, "row" + (i === state.selected ? " selected" : ""));
    tr.dataset.row = i;
    columns.forEach((col, c) => {
      const td = el("td", col.text(i));
      if (c === 1) td.className = "kind-" + D.rowKind[i];
      tr.appendChild(td);
    });
    tr.addEventListener("click", () => show(i));
    body.appendChild(tr);
  }
}

function base64Bytes(text) {
  const raw = atob(text), bytes = new Uint8Array(raw.length);
  for (let j = 0; j < raw.length; j++) bytes[j] = raw.charCodeAt(j);
  return bytes;
}
const cached = (cache, key, make) => {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key);
};
const docCache = new Map(), mapCache = new Map();
const docBytes = d => cached(docCache, d, () => base64Bytes(D.documents[d]));
const maps = m => cached(mapCache, m, () => base64Bytes(D.examples[m].maps));
const decoder = new TextDecoder("utf-8");
const decode = (bytes, a, b) => decoder.decode(bytes.subarray(a, b));

function textExample(ex, at) {
  const div = el("div", undefined, "example");
  div.appendChild(el("span", fmt(ex.value[at], 3), "value"));
  const bytes = docBytes(ex.doc[at]);
  const start = ex.start[at], end = ex.end[at];
  let a = Math.max(0, start - CONTEXT), b = Math.min(bytes.length, end + CONTEXT);
  while (a > 0 && a < start && (bytes[a] & 0xC0) === 0x80) a++;
  while (b < bytes.length && b > end && (bytes[b] & 0xC0) === 0x80) b--;
  const spanEnd = Math.min(end, start + SPAN);
  div.appendChild(el("span", (a > 0 ? "\u2026" : "") + decode(bytes, a, start), "before"));
  div.appendChild(el("mark", decode(bytes, start, spanEnd) + (spanEnd < end ? "\u2026" : "")));
  div.appendChild(el("span", decode(bytes, end, b) + (b < bytes.length ? "\u2026" : ""), "after"));
  return div;
}

function imageExample(m, ex, at) {
  const figure = el("figure");
  const canvas = el("canvas");
  canvas.width = canvas.height = 112;
  figure.appendChild(canvas);
  figure.appendChild(el("figcaption", fmt(ex.value[at], 3) + " (image " + ex.input[at] + ")"));
  const [h, w] = D.grid, size = h * w, map = maps(m).subarray(at * size, (at + 1) * size);
  const image = new Image();
  image.onload = () => {
    const ctx = canvas.getContext("2d");
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    const small = el("canvas");
    small.width = w; small.height = h;
    const sctx = small.getContext("2d"), pixels = sctx.createImageData(w, h);
    for (let j = 0; j < size; j++) {
      pixels.data[4 * j] = 255; pixels.data[4 * j + 1] = Math.round(220 * (1 - map[j] / 255));
      pixels.data[4 * j + 2] = 0; pixels.data[4 * j + 3] = Math.round(180 * map[j] / 255);
    }
    sctx.putImageData(pixels, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    canvas.dataset.drawn = "1";
  };
  image.src = D.thumbs[ex.thumb[at]];
  return figure;
}

function modelColumn(m, i) {
  const div = el("div", undefined, "model");
  div.dataset.model = m;
  const r = D.r[m][i];
  div.appendChild(el("h3", D.models[m] + " \u2014 " + unitText(m, i) +
                           (r === null ? "" : " \u2014 r = " + r.toFixed(3))));
  const ex = D.examples[m];
  if (!ex.k) {
    div.appendChild(el("p", "no examples recorded for this model", "muted"));
    return div;
  }
  const holder = el("div", undefined, ex.thumb ? "images" : "texts");
  for (let j = 0; j < ex.k; j++) {
    const at = i * ex.k + j;
    if (ex.value[at] === null) continue;
    if (ex.thumb) holder.appendChild(imageExample(m, ex, at));
    else if (ex.doc) holder.appendChild(textExample(ex, at));
    else holder.appendChild(el("div", fmt(ex.value[at], 3) + "  input " + ex.input[at], "example"));
  }
  div.appendChild(holder);
  return div;
}

function show(i) {
  state.selected = i;
  document.querySelectorAll("tr.row").forEach(
    tr => tr.classList.toggle("selected", Number(tr.dataset.row) === i));
  const detail = document.getElementById("detail");
  detail.replaceChildren();
  detail.dataset.row = i;
  detail.appendChild(el("h2", KIND[D.rowKind[i]] + " row " + i +
                              (isNaN(rowR[i]) ? "" : " (r = " + rowR[i].toFixed(3) + ")")));
  const cols = el("div"); cols.id = "columns";
  for (let m = 0; m < M; m++) if (D.layers[m][i] >= 0) cols.appendChild(modelColumn(m, i));
  detail.appendChild(cols);
}

document.getElementById("title").textContent = D.title;
const rosetta = D.rowKind.filter(k => k === 0).length;
document.getElementById("summary").textContent = rosetta + " Rosetta rows, " + (N - rosetta) +
  " contrast neurons; models: " + D.models.join(", ") + "; inputs: " + D.kind;
buildHead();
["kind", "layer", "min-r", "min-sel"].forEach(id =>
  document.getElementById(id).addEventListener("input", () => { state.page = 0; update(); }));
document.getElementById("prev").addEventListener(
  "click", () => { state.page = Math.max(0, state.page - 1); update(); });
document.getElementById("next").addEventListener("click", () => { state.page++; update(); });
update();
window.reportFirstRenderMs = performance.now();
</script>
</body>
</html>
"""
