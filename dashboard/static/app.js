// The glimpse dashboard: polls /api/state every second and follows the
// log stream (/api/logs, server-sent events). Plain DOM, no build step.
"use strict";

const pollEvery = 1000;
const maxLogLines = 500;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function duration(s) {
  if (!(s > 0)) return "-";
  if (s < 1e-3) return (s * 1e6).toFixed(0) + "µs";
  if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + "ms";
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + Math.floor(s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d" + Math.floor((s % 86400) / 3600) + "h";
}

function mebibytes(n) { return n > 0 ? (n / 1048576).toFixed(1) + "M" : "-"; }

function ago(t, now) {
  const ms = Date.parse(t);
  if (!ms || ms < 0) return "none yet";
  return duration(Math.max((now - ms) / 1000, 0.001)) + " ago";
}

function rate(x) { return x >= 100 ? Math.round(x).toLocaleString() : x.toFixed(1); }

function renderWorkers(ws, now) {
  const body = document.querySelector("#workers tbody");
  body.replaceChildren(...ws.map(w => {
    const tr = el("tr", { "data-worker": w.id, class: w.stale ? "stale" : null },
      el("td", { title: w.id }, w.id), el("td", {}, w.host || "-"), el("td", {}, w.pid || "-"),
      el("td", {}, w.slots), el("td", {}, w.busy), el("td", {}, w.requests), el("td", {}, duration(w.mean_etime_s)),
      el("td", {}, w.failures), el("td", {}, mebibytes(w.memory_bytes)), el("td", {}, duration(w.uptime_s)),
      el("td", {}, ago(w.last_heartbeat, now)));
    return tr;
  }));
  if (ws.length === 0) body.append(el("tr", {}, el("td", { colspan: 11, class: "muted" }, "no workers")));
  const stale = ws.filter(w => w.stale).length;
  document.getElementById("workers-count").textContent = ws.length + (stale ? ` (${stale} stale)` : "");
}

function renderFunctions(fs) {
  const body = document.querySelector("#functions tbody");
  body.replaceChildren(...fs.map(f => el("tr", { "data-function": f.name },
    el("td", {}, f.name), el("td", {}, f.server), el("td", {}, f.queued), el("td", {}, f.running),
    el("td", {}, f.workers), el("td", {}, f.slots))));
  if (fs.length === 0) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no functions")));
}

function renderMaps(maps, now) {
  const box = document.getElementById("maps");
  if (maps.length === 0) {
    box.replaceChildren(el("p", { class: "muted" }, "none"));
    return;
  }
  box.replaceChildren(...maps.map(m => {
    const total = m.total >= 0 ? m.total : null;
    const pct = total ? Math.floor((100 * m.done) / total) : null;
    const elapsed = (now - Date.parse(m.start)) / 1000;
    const status = m.state === "end" ? (m.error ? "failed: " + m.error : "done") : (m.stale ? "no news" : "running");
    const bar = el("progress", total ? { max: total, value: m.done } : {});
    return el("div", { class: "map" + (m.stale ? " stale" : ""), "data-map": m.id },
      el("div", { class: "head" },
        el("span", { class: "name" }, m.function),
        el("span", { class: "muted" }, `${m.client} · ${m.id} · ${duration(elapsed)} · ${status}`)),
      bar,
      el("div", { class: "count" }, el("span", { class: "done" }, m.done), " / ", total === null ? "?" : total,
        pct === null ? "" : ` (${pct}%)`, elapsed > 0 ? ` · ${rate(m.done / elapsed)} items/s` : ""));
  }));
}

function renderTasks(tasks) {
  const box = document.getElementById("tasks");
  if (tasks === null || tasks === undefined) {
    box.replaceChildren(el("p", { class: "muted" }, "no task service"));
    return;
  }
  const states = Object.keys(tasks).sort();
  if (states.length === 0) {
    box.replaceChildren(el("p", { class: "muted" }, "no tasks"));
    return;
  }
  box.replaceChildren(el("div", { class: "tasks" },
    ...states.map(s => el("div", { class: "task", "data-state": s }, el("b", {}, tasks[s]), s))));
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function renderChart(points) {
  const W = 600, H = 160, left = 44, bottom = 18, top = 6;
  const peak = Math.max(1, ...points.map(p => Math.max(p.items, p.chunks)));
  const x = i => left + ((W - left - 4) * i) / Math.max(points.length - 1, 1);
  const y = v => top + (H - top - bottom) * (1 - v / peak);
  const line = key => points.map((p, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(p[key]).toFixed(1)).join(" ");
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
    "aria-label": "items and chunks per second" });
  for (const f of [0, 0.5, 1]) {
    chart.append(svg("line", { class: "grid", x1: left, x2: W - 4, y1: y(peak * f), y2: y(peak * f) }));
    chart.append(svg("text", { class: "axis", x: left - 4, y: y(peak * f) + 3, "text-anchor": "end" }, rate(peak * f)));
  }
  chart.append(svg("text", { class: "axis", x: left, y: H - 4 }, "-5m"));
  chart.append(svg("text", { class: "axis", x: W - 4, y: H - 4, "text-anchor": "end" }, "now"));
  if (points.length > 1) {
    chart.append(svg("path", { class: "chunks", d: line("chunks") }));
    chart.append(svg("path", { class: "items", d: line("items") }));
  }
  document.getElementById("chart").replaceChildren(chart);
}

function renderProblems(problems) {
  const box = document.getElementById("problems");
  box.hidden = problems.length === 0;
  box.replaceChildren(...problems.map(p => el("div", {}, p)));
}

async function poll() {
  try {
    const resp = await fetch("api/state", { cache: "no-store" });
    if (!resp.ok) throw new Error(resp.status + " " + resp.statusText);
    const s = await resp.json();
    const now = Date.parse(s.time) || Date.now();
    renderWorkers(s.workers, now);
    renderFunctions(s.functions);
    renderMaps(s.maps, now);
    renderChart(s.throughput);
    renderTasks(s.tasks);
    renderProblems(s.problems);
    document.getElementById("updated").textContent = "updated " + new Date(now).toLocaleTimeString();
  } catch (err) {
    document.getElementById("updated").textContent = "cannot reach the dashboard: " + err.message;
  }
  setTimeout(poll, pollEvery);
}

let stream = null;
function followLogs() {
  if (stream) stream.close();
  const level = document.getElementById("level").value;
  const box = document.getElementById("logs");
  box.replaceChildren();
  stream = new EventSource("api/logs?level=" + encodeURIComponent(level));
  const state = document.getElementById("logs-state");
  state.textContent = "connecting…";
  stream.onopen = () => { state.textContent = "live"; };
  stream.onerror = () => { state.textContent = "reconnecting…"; };
  stream.onmessage = ev => {
    const r = JSON.parse(ev.data);
    const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    const t = r.time ? new Date(r.time).toLocaleTimeString() : "";
    box.append(el("div", { class: r.level },
      el("span", { class: "worker" }, r.worker), ` ${t} ${r.level} ${r.msg}` + (r.attrs ? " " + r.attrs : "")));
    while (box.childElementCount > maxLogLines) box.firstElementChild.remove();
    if (stick) box.scrollTop = box.scrollHeight;
  };
}

document.getElementById("level").addEventListener("change", followLogs);
followLogs();
poll();
