// The live inspector page of `webhook-sim receive`: requests arrive as server-sent
// events (a snapshot, then batches); details, bytes and Resend are plain fetches.
"use strict";

const SHOWN = 500; // rows in the table at once: the rest are kept, and found by filters
const WINDOW = 300; // seconds in the chart
const CLASSES = ["2xx", "3xx", "4xx", "5xx", "dropped"];
const state = {
  rows: [], // newest first, at most `keep`
  last: 0, // the highest request number seen
  keep: 1000,
  total: 0,
  dropped: 0,
  record: null,
  url: "",
  paused: false,
  pending: [],
  chart: new Map(), // epoch second -> [2xx, 3xx, 4xx, 5xx, dropped]
  clockSkew: 0, // server clock - page clock, in seconds
  selected: null,
  types: new Set(),
};
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const fmt = new Intl.NumberFormat("en");
function clock(epoch) {
  const d = new Date(epoch * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
function size(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`;
}

// -- verdicts ------------------------------------------------------------------------

const SIGNATURE = {
  valid: ["b-ok", "signature valid"],
  invalid: ["b-bad", "signature invalid"],
  missing: ["b-bad", "signature missing"],
  stale: ["b-warn", "signature stale"],
  unsigned: ["b-muted", "unsigned"],
};

function badges(r) {
  const out = [];
  const badge = (name, cls, text, title) => out.push(el("span", { class: `badge ${cls}`, "data-badge": name, title }, text));
  const [cls, text] = SIGNATURE[r.signature] || ["b-muted", `signature ${r.signature}`];
  badge(`signature-${r.signature}`, cls, text);
  if (r.duplicate) badge("duplicate", "b-dup", "duplicate", "an earlier request with this id was accepted");
  if (r.not_json) badge("not-json", "b-bad", "not JSON");
  else if (r.schema_errors === null) badge("schema-skipped", "b-muted", "schema not checked");
  else if (r.schema_errors === 0) badge("schema-ok", "b-ok", "schema ok");
  else badge("schema-errors", "b-bad", `${r.schema_errors} schema error${r.schema_errors === 1 ? "" : "s"}`);
  if (r.fault === "fail") badge("fault-fail", "b-warn", `injected failure ${r.status}`, "--fail-rate");
  if (r.fault === "drop") badge("fault-drop", "b-warn", "injected drop", "--drop-rate: closed without an answer");
  if (r.delay_ms > 0) badge("delay", "b-info", `delayed ${r.delay_ms} ms`, "--delay");
  return out;
}

function problem(r) {
  return !["valid", "unsigned"].includes(r.signature) || r.duplicate || r.not_json || r.schema_errors > 0 || r.fault !== null;
}

function matches(r) {
  const verdict = $("verdict").value;
  const type = $("event-type").value;
  const search = $("search").value.trim().toLowerCase();
  if (type && r.event_type !== type) return false;
  if (search) {
    const number = search.startsWith("#") ? search.slice(1) : search;
    if (String(r.number) !== number && !(r.event_id || "").toLowerCase().includes(search)) return false;
  }
  if (!verdict) return true;
  if (verdict.startsWith("signature:")) return r.signature === verdict.slice(10);
  return {
    problem: problem(r),
    duplicate: r.duplicate,
    schema: r.schema_errors > 0,
    "not-json": r.not_json,
    fault: r.fault !== null,
  }[verdict];
}

// -- the list ------------------------------------------------------------------------

function rowElement(r) {
  const status = r.status === null ? "dropped" : r.status;
  const statusClass = r.status === null ? "status-none" : `status-${String(r.status)[0]}`;
  const tr = el(
    "tr",
    { "data-number": r.number, onclick: () => select(r.number) },
    el("td", { class: "num" }, r.number),
    el("td", { class: "mono" }, clock(r.time)),
    el("td", { class: "method" }, r.method),
    el("td", { class: "path mono" }, r.path),
    el("td", {}, r.event_type || "–"),
    el("td", { class: "id mono", title: r.event_id || "" }, r.event_id || "–"),
    el("td", { class: "size" }, size(r.size)),
    el("td", { class: `status ${statusClass}` }, status),
    el("td", { class: "verdicts" }, badges(r)),
  );
  if (r.number === state.selected) tr.classList.add("selected");
  return tr;
}

function render() {
  const body = $("rows");
  const shown = state.rows.filter(matches);
  body.replaceChildren(...shown.slice(0, SHOWN).map(rowElement));
  counts(shown.length);
}

function counts(matching) {
  const of = matching === state.rows.length ? "" : ` of ${fmt.format(state.rows.length)}`;
  const more = matching > SHOWN ? ` (the newest ${SHOWN} shown)` : "";
  const paused = state.paused ? ` · paused, ${fmt.format(state.pending.length)} new` : "";
  $("counts").textContent = `${fmt.format(matching)}${of} requests${more}${paused}`;
  $("empty").hidden = state.rows.length > 0;
  const note = $("dropped");
  note.hidden = state.dropped === 0;
  const all = state.record
    ? `the --record file ${state.record} has every request`
    : "start receive with --record FILE to keep every request";
  note.textContent = `${fmt.format(state.dropped)} older request${state.dropped === 1 ? " was" : "s were"} dropped: this page keeps the last ${fmt.format(state.keep)} (--keep); ${all}.`;
}

function add(rows) {
  const fresh = rows.filter((r) => r.number > state.last);
  if (!fresh.length) return;
  state.last = fresh[fresh.length - 1].number;
  fresh.reverse();
  state.rows = fresh.concat(state.rows).slice(0, state.keep);
  const body = $("rows");
  const before = body.firstChild;
  for (const r of fresh) {
    if (r.event_type && !state.types.has(r.event_type)) addType(r.event_type);
    if (!matches(r)) continue;
    const tr = rowElement(r);
    tr.classList.add("fresh");
    body.insertBefore(tr, before); // newest first: each goes above the rows already there
  }
  while (body.children.length > SHOWN) body.lastChild.remove();
  counts(state.rows.filter(matches).length);
}

function addType(type) {
  state.types.add(type);
  const select = $("event-type");
  const options = Array.from(state.types).sort();
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"), ...options.map((t) => el("option", { value: t }, t)));
  select.value = chosen;
}

// -- live updates --------------------------------------------------------------------

// The first message, and the one after a reconnect or after falling behind: all kept rows.
function hello(message) {
  const about = message.receiver;
  Object.assign(state, { keep: about.keep, record: about.record, url: about.url, pending: [], chart: new Map() });
  $("where").replaceChildren("POST webhooks to ", el("code", {}, about.url), ` · signature ${about.scheme}`);
  state.rows = message.rows.slice().reverse();
  state.last = message.rows.length ? message.rows[message.rows.length - 1].number : 0;
  for (const r of message.rows) if (r.event_type && !state.types.has(r.event_type)) addType(r.event_type);
  tally(message);
  render();
  chart();
}

function update(message) {
  tally(message);
  if (state.paused) {
    state.pending = state.pending.concat(message.rows).slice(-state.keep);
    counts(state.rows.filter(matches).length);
  } else {
    add(message.rows);
  }
  chart();
}

function tally(message) {
  state.total = message.total;
  state.dropped = message.dropped;
  state.clockSkew = message.now - Date.now() / 1000;
  for (const [second, ...classes] of message.chart) state.chart.set(second, classes);
}

function connect() {
  const source = new EventSource("/_sim/events");
  source.addEventListener("hello", (e) => hello(JSON.parse(e.data)));
  source.addEventListener("batch", (e) => update(JSON.parse(e.data)));
  source.onopen = () => live();
  source.onerror = () => live("reconnecting");
}

function live(problem) {
  const badge = $("live");
  badge.className = `live ${problem ? "off" : state.paused ? "paused" : "on"}`;
  badge.textContent = problem || (state.paused ? "paused" : "live");
}

function togglePause() {
  state.paused = !state.paused;
  const button = $("pause");
  button.textContent = state.paused ? "Resume" : "Pause";
  button.classList.toggle("on", state.paused);
  if (!state.paused) {
    const pending = state.pending;
    state.pending = [];
    add(pending);
  }
  live();
  counts(state.rows.filter(matches).length);
}

// -- the chart -----------------------------------------------------------------------

function chart() {
  const svg = $("chart");
  const now = Math.floor(Date.now() / 1000 + state.clockSkew);
  const width = 900, height = 110, top = 6, bottom = 14, left = 30;
  const step = (width - left) / WINDOW;
  let peak = 1;
  for (const [second, c] of state.chart) {
    if (second <= now - WINDOW) state.chart.delete(second);
    else peak = Math.max(peak, c.reduce((a, b) => a + b, 0));
  }
  const scale = niceCeiling(peak);
  const y = (n) => height - bottom - (n / scale) * (height - top - bottom);
  const parts = [
    svgEl("line", { class: "axis", x1: left, x2: width, y1: y(0), y2: y(0) }),
    svgEl("line", { class: "axis", x1: left, x2: width, y1: y(scale), y2: y(scale) }),
    svgEl("text", { x: 0, y: y(scale) + 4 }, fmt.format(scale)),
    svgEl("text", { x: 0, y: y(0) }, "0"),
    svgEl("text", { x: left, y: height - 2 }, "−5 min"),
    svgEl("text", { x: width - 24, y: height - 2 }, "now"),
  ];
  for (const [second, c] of state.chart) {
    const x = left + (second - (now - WINDOW)) * step;
    let base = 0;
    c.forEach((n, i) => {
      if (!n) return;
      const bar = svgEl("rect", { class: `bar c-${CLASSES[i]}`, x: x - step, y: y(base + n), width: Math.max(step - 0.6, 1), height: y(base) - y(base + n) });
      bar.append(svgEl("title", {}, `${clock(second).slice(0, 8)}: ${n} × ${CLASSES[i]}`));
      parts.push(bar);
      base += n;
    });
  }
  svg.replaceChildren(...parts);
  const last = state.chart.get(now - 1);
  $("rate").textContent = `${fmt.format(last ? last.reduce((a, b) => a + b, 0) : 0)} req/s in the last full second · ${fmt.format(state.total)} received`;
}

function niceCeiling(n) {
  const power = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * power >= n) return m * power;
  return 10 * power;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- one request ---------------------------------------------------------------------

async function select(number) {
  state.selected = number;
  for (const tr of $("rows").querySelectorAll("tr.selected")) tr.classList.remove("selected");
  const tr = $("rows").querySelector(`tr[data-number="${number}"]`);
  if (tr) tr.classList.add("selected");
  const panel = $("detail");
  panel.hidden = false;
  document.body.classList.add("split");
  panel.replaceChildren(el("p", {}, `Loading request ${number}…`));
  const answer = await fetch(`/_sim/requests/${number}`);
  const detail = await answer.json();
  if (state.selected !== number) return;
  if (!answer.ok) {
    panel.replaceChildren(el("p", {}, detail.error));
    return;
  }
  panel.replaceChildren(...detailView(detail));
}

function detailView(d) {
  const status = d.status === null ? "dropped" : d.status;
  const out = [
    el("h2", {}, `#${d.number} ${d.method} ${d.path} → ${status}`,
      el("button", { class: "close", type: "button", onclick: closeDetail }, "Close")),
    el("div", { class: "verdicts" }, badges(d)),
    el("table", { class: "meta" }, el("tbody", {},
      el("tr", {}, el("td", {}, "received"), el("td", {}, `${new Date(d.time * 1000).toISOString()}`)),
      el("tr", {}, el("td", {}, "event"), el("td", {}, d.event_type || "–")),
      el("tr", {}, el("td", {}, "id"), el("td", { class: "mono" }, d.event_id || "–")),
      el("tr", {}, el("td", {}, "size"), el("td", {}, `${fmt.format(d.size)} bytes`)),
    )),
    el("div", { class: "actions" },
      el("a", { id: "download", href: `/_sim/requests/${d.number}/body`, download: `request-${d.number}.${d.not_json ? "bin" : "json"}` }, "Download the exact bytes")),
    resendForm(d.number),
  ];
  if (d.problems.length) {
    out.push(el("h3", {}, "Schema errors"), el("ul", { class: "problems" },
      d.problems.map((p) => el("li", { onclick: () => reveal(p.path) }, el("code", {}, p.text || "body"), ` ${p.message}`))));
  }
  out.push(el("h3", {}, "Body"), bodyView(d));
  out.push(el("h3", {}, "Headers"), el("table", { class: "headers" }, el("tbody", {},
    Object.entries(d.headers).map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))))));
  return out;
}

function closeDetail() {
  state.selected = null;
  $("detail").hidden = true;
  document.body.classList.remove("split");
  for (const tr of $("rows").querySelectorAll("tr.selected")) tr.classList.remove("selected");
}

function bodyView(d) {
  const raw = d.body_base64 ? `(base64) ${d.body}` : d.body;
  const rawView = el("pre", { class: "raw", id: "raw-body" }, raw || "(empty)");
  let data;
  try {
    if (d.body_base64 || d.not_json) throw new Error("not JSON");
    data = JSON.parse(d.body);
  } catch {
    return rawView;
  }
  const errors = new Map(d.problems.filter((p) => p.path).map((p) => [JSON.stringify(p.path), p.message]));
  const tree = el("div", { class: "tree", id: "tree" }, node(null, data, [], errors, 0));
  rawView.hidden = true;
  const tabs = el("div", { class: "tabs actions" },
    el("button", { type: "button", class: "active", onclick: (e) => tab(e, tree, rawView) }, "Pretty"),
    el("button", { type: "button", onclick: (e) => tab(e, rawView, tree) }, "Exact text"));
  return el("div", {}, tabs, tree, rawView);
}

function tab(event, show, hide) {
  show.hidden = false;
  hide.hidden = true;
  for (const b of event.target.parentNode.children) b.classList.toggle("active", b === event.target);
}

// A JSON value as nested <details>: objects and arrays fold; a node on a schema error's
// path is marked with its message, and its ancestors start open.
function node(key, value, path, errors, depth) {
  const id = JSON.stringify(path);
  const message = errors.get(id);
  const label = key === null ? [] : [el("span", { class: "key" }, typeof key === "number" ? `[${key}]` : JSON.stringify(key)), ": "];
  const note = message ? el("span", { class: "error-note" }, `⚠ ${message}`) : null;
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const inside = path.length ? id.slice(0, -1) + "," : "[";
    const onPath = Array.from(errors.keys()).some((e) => e.startsWith(inside));
    const open = depth < 2 || onPath || !!message;
    const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
    const summary = el("summary", { class: message ? "error" : null, title: message || null }, label,
      brackets[0], el("span", { class: "count" }, ` ${entries.length} ${Array.isArray(value) ? "items" : "keys"} `), brackets[1], note);
    return el("details", { open, "data-path": id }, summary,
      entries.map(([k, v]) => node(k, v, path.concat([k]), errors, depth + 1)));
  }
  const kind = typeof value === "string" ? "str" : typeof value === "number" ? "num" : "lit";
  return el("div", { class: `leaf${message ? " error" : ""}`, "data-path": id, title: message || null },
    label, el("span", { class: kind }, JSON.stringify(value)), note);
}

// Scroll to the deepest node on `path` that the body has (a missing property's parent).
function reveal(path) {
  if (!path) return;
  for (let n = path.length; n >= 0; n -= 1) {
    const id = JSON.stringify(path.slice(0, n));
    const target = Array.from(document.querySelectorAll("#tree [data-path]")).find((e) => e.dataset.path === id);
    if (target) {
      for (let p = target; p && p.id !== "tree"; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
      target.classList.add("error");
      target.scrollIntoView({ block: "center" });
      return;
    }
  }
}

function resendForm(number) {
  const input = el("input", { id: "resend-url", type: "url", placeholder: "http://127.0.0.1:8080/hooks", value: localStorage.getItem("resend-url") || state.url });
  const result = el("div", { id: "resend-result" });
  const send = async () => {
    localStorage.setItem("resend-url", input.value);
    result.className = "resend-result";
    result.textContent = `Resending to ${input.value}…`;
    const answer = await fetch(`/_sim/requests/${number}/resend`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ url: input.value }),
    });
    const r = await answer.json();
    if (r.error) {
      result.className = "resend-result bad";
      result.textContent = `Resend failed: ${r.error}`;
      return;
    }
    result.className = `resend-result ${r.status < 300 ? "ok" : "bad"}`;
    result.replaceChildren(`${r.status} ${r.reason || ""} from ${r.url} in ${r.elapsed_ms} ms`,
      el("details", {}, el("summary", {}, "answer"),
        el("pre", { class: "raw" }, r.headers.map(([k, v]) => `${k}: ${v}`).join("\n"), "\n\n", r.body, r.body_truncated ? "\n…" : "")));
  };
  return el("div", {},
    el("div", { class: "actions" }, el("label", { for: "resend-url" }, "Resend byte for byte to"), input,
      el("button", { id: "resend", type: "button", onclick: send }, "Resend")),
    result);
}

// -- start -----------------------------------------------------------------------------

for (const id of ["verdict", "event-type"]) $(id).addEventListener("change", render);
$("search").addEventListener("input", render);
$("pause").addEventListener("click", togglePause);
$("legend").replaceChildren(...CLASSES.map((c) => el("span", {}, el("i", { class: `c-${c}` }), c)));
setInterval(chart, 1000);
connect();
