// The dashboard: plain JS over the REST API. The token lives in sessionStorage only (gone with the tab).
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "jackpotToken";
const SETS = ["A", "B", "C", "D", "E", "F", "G"];
const PICK_LABEL = { home: "1", draw: "X", away: "2", H: "1", D: "X", A: "2", "1": "1", X: "X", "2": "2" };
const PICK_SIDE = { home: "home", draw: "draw", away: "away", H: "home", D: "draw", A: "away", "1": "home", X: "draw", "2": "away" };

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function pct(p) { return p === null || p === undefined ? "" : (100 * p).toFixed(1) + "%"; }
function num(x, digits) { return x === null || x === undefined ? "" : Number(x).toFixed(digits); }

async function call(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(API + path, Object.assign({}, options, { headers }));
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) body = await response.json();
  return { status: response.status, body };
}

function showTokenState() {
  $("token-state").textContent = token() ? "token set for this tab" : "no token";
}

function setStatus(text) { $("status").textContent = text; }

function showErrors(body) {
  const list = $("errors");
  list.replaceChildren();
  if (!body) return;
  const items = (body.detail && body.detail.length) ? body.detail.map((d) => `${d.loc.join(".")}: ${d.msg}`) : [body.reason];
  for (const text of items) {
    const li = document.createElement("li");
    li.textContent = text;
    list.appendChild(li);
  }
}

async function submitCard() {
  showErrors(null);
  let text = $("card").value;
  const file = $("card-file").files[0];
  if (!text.trim() && file) text = await file.text();
  if (!text.trim()) { setStatus("Paste a card or choose a file first."); return; }
  setStatus("Submitting…");
  const { status, body } = await call("/jackpots", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: text,
  });
  if (status !== 200 && status !== 202) {
    setStatus(`Refused (${status}): ${body ? body.reason : "no reason given"}`);
    showErrors(body);
    return;
  }
  setStatus(`Card ${body.jackpot_id} accepted (${body.status}); waiting for the pipeline…`);
  await waitForPredictions(body.jackpot_id);
}

async function waitForPredictions(jackpotId) {
  for (let attempt = 0; attempt < 900; attempt++) {
    const { status, body } = await call(`/jackpots/${encodeURIComponent(jackpotId)}`);
    if (status !== 200) { setStatus(`Polling failed (${status}): ${body ? body.reason : ""}`); return; }
    if (body.status === "finalised") { await showJackpot(jackpotId); return; }
    if (body.status === "failed") { setStatus(`The pipeline could not predict ${jackpotId}: ${body.error}`); return; }
    setStatus(`Card ${jackpotId} is ${body.status}… (${attempt + 1})`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  setStatus(`Still pending after 15 minutes: ${jackpotId}`);
}

async function showJackpot(jackpotId) {
  const predictions = await call(`/jackpots/${encodeURIComponent(jackpotId)}/predictions`);
  const tickets = await call(`/jackpots/${encodeURIComponent(jackpotId)}/tickets`);
  if (predictions.status !== 200) { setStatus(`Predictions unavailable: ${predictions.body.reason}`); return; }
  const tbody = $("predictions").querySelector("tbody");
  tbody.replaceChildren();
  for (const fixture of predictions.body.fixtures) {
    const row = document.createElement("tr");
    row.className = "fixture-row";
    cell(row, fixture.position);
    cell(row, `${fixture.home_team_card} v ${fixture.away_team_card}`);
    cell(row, fixture.league);
    cell(row, fixture.mode);
    for (const setId of SETS) {
      const entry = fixture.sets[setId];
      if (!entry) { cell(row, "—", "set-cell"); continue; }
      const p = entry.probabilities;
      const pickProbability = p ? p[PICK_SIDE[entry.pick]] : null;
      const td = cell(row, `${PICK_LABEL[entry.pick] || entry.pick} ${pct(pickProbability)} (${entry.confidence})`,
        "set-cell" + (entry.flags.length ? " flagged" : ""));
      td.dataset.set = setId;
      if (p) td.title = `1 ${pct(p.home)} · X ${pct(p.draw)} · 2 ${pct(p.away)}` + (entry.flags.length ? ` · flags: ${entry.flags.join(", ")}` : "");
    }
    tbody.appendChild(row);
  }
  const ticketBody = $("tickets").querySelector("tbody");
  ticketBody.replaceChildren();
  if (tickets.status === 200) {
    for (const [setId, analysis] of Object.entries(tickets.body.tickets.sets)) {
      const row = document.createElement("tr");
      row.className = "ticket-row";
      const ml = analysis.most_likely, opt = analysis.optimised;
      cell(row, setId);
      cell(row, (ml.selections || []).join(" "));
      cell(row, ml.p_all_correct !== undefined ? ml.p_all_correct.toExponential(3) : "");
      cell(row, num(ml.expected_correct, 2));
      cell(row, (opt.selections || []).join(" "));
      cell(row, opt.p_all_correct !== undefined ? opt.p_all_correct.toExponential(3) : "");
      cell(row, opt.lines);
      ticketBody.appendChild(row);
    }
  }
  $("predictions-title").textContent = `— ${jackpotId}`;
  $("predictions-section").hidden = false;
  setStatus(`Card ${jackpotId} finalised: ${predictions.body.n_fixtures} fixtures × ${SETS.length} sets.`);
}

function reliabilitySvg(reliability) {
  // Observed frequency against mean predicted probability per bin, one polyline per outcome.
  const ns = "http://www.w3.org/2000/svg";
  const size = 120, svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", size); svg.setAttribute("height", size);
  svg.setAttribute("class", "reliability");
  const diagonal = document.createElementNS(ns, "line");
  Object.entries({ x1: 0, y1: size, x2: size, y2: 0, stroke: "#bbb" }).forEach(([k, v]) => diagonal.setAttribute(k, v));
  svg.appendChild(diagonal);
  const colours = { H: "#1f77b4", D: "#7f7f7f", A: "#d62728" };
  for (const [outcome, bins] of Object.entries(reliability || {})) {
    const points = [];
    bins.mean_predicted.forEach((x, i) => {
      const y = bins.observed_frequency[i];
      if (x !== null && y !== null && bins.count[i] > 0) points.push(`${(x * size).toFixed(1)},${((1 - y) * size).toFixed(1)}`);
    });
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colours[outcome] || "#000");
    svg.appendChild(line);
  }
  return svg;
}

async function loadHealth() {
  const health = await call("/models/health");
  const tbody = $("health").querySelector("tbody");
  tbody.replaceChildren();
  if (health.status === 200) {
    for (const league of health.body.leagues) {
      const row = document.createElement("tr");
      row.className = "health-row";
      cell(row, league.league);
      cell(row, league.status, `status-${league.status}`);
      cell(row, league.n);
      cell(row, num(league.rps, 4));
      cell(row, league.rps_vs_market === undefined ? "" : `${num(league.rps_vs_market, 4)} (${num(league.rps_vs_market_se, 4)})`);
      cell(row, league.drift ? `${league.drift.status}${league.drift.z !== null ? " z=" + num(league.drift.z, 2) : ""}` : "");
      const plot = cell(row, "");
      if (league.reliability) plot.appendChild(reliabilitySvg(league.reliability));
      tbody.appendChild(row);
    }
  }
  const freshness = await call("/data/freshness");
  const fbody = $("freshness").querySelector("tbody");
  fbody.replaceChildren();
  if (freshness.status === 200) {
    for (const league of freshness.body.leagues) {
      const row = document.createElement("tr");
      row.className = "freshness-row";
      cell(row, league.league);
      cell(row, (league.last_match_date || "").slice(0, 10));
      cell(row, (league.latest_snapshot_date || "").slice(0, 10));
      cell(row, league.days_behind);
      cell(row, league.stale ? "stale" : "fresh");
      fbody.appendChild(row);
    }
  }
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  showTokenState();
  loadHealth();
});
$("forget-token").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showTokenState(); });
$("submit").addEventListener("click", submitCard);
$("refresh-health").addEventListener("click", loadHealth);
$("card-file").addEventListener("change", async () => {
  const file = $("card-file").files[0];
  if (file) $("card").value = await file.text();
});
showTokenState();
if (token()) loadHealth();
