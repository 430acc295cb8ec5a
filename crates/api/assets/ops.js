// Anxin operator dashboard. Polls /v1/ops/summary and /v1/ops/board with the
// session cookie every few seconds and redraws. Everything from the server is
// inserted as text (textContent), never as HTML: expert names come from
// applicants.
"use strict";

(function () {
  const ZH_PAGE = document.documentElement.lang.startsWith("zh");
  // The page is written in English; its Chinese comes from the catalogue
  // (crates/api/words.json, section "ops"), keyed by the English. `say`
  // leaves other text (names, figures) as it is.
  const say = (text) => (typeof text === "string" ? anxinWords.t(text) : text);

  // The page's own texts and labels, once, at load.
  function translatePage() {
    if (!ZH_PAGE) return;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const key = n.nodeValue.trim();
      if (!key) continue;
      // "emergency · 3 urgent · …": each part between the dots on its own.
      const zh = key.replace(/[^·]+/g, (part) => {
        const word = part.trim();
        const said = say(word);
        return said === word ? part : part.replace(word, said);
      });
      if (zh !== key) n.nodeValue = n.nodeValue.replace(key, zh);
    }
    for (const e of document.querySelectorAll("[aria-label], [placeholder]")) {
      for (const a of ["aria-label", "placeholder"]) {
        const v = e.getAttribute(a);
        if (v && anxinWords.has(v)) e.setAttribute(a, anxinWords.t(v));
      }
    }
  }

  const POLL_MS = 3000;
  const SVG = "http://www.w3.org/2000/svg";
  const WINDOWS = ["1h", "24h", "7d"];
  const GROUPS = {
    medical_worker: "Medical workers",
    patient: "Patients",
    bereaved_family: "Bereaved families",
    general: "General",
  };
  const OUTCOME_LABELS = {
    completed: "completed",
    expert_no_answer: "expert no answer",
    expert_busy: "expert busy",
    seeker_no_answer: "seeker no answer",
    seeker_busy: "seeker busy",
    failed: "failed",
    cancelled: "cancelled",
    none: "not dialed",
  };

  let windowName = localStorage.getItem("anxin.ops.window");
  if (!WINDOWS.includes(windowName)) windowName = "24h";
  let inFlight = false;
  let last = null;
  // The applicants' page on view, and the ones ticked (kept across redraws).
  let applicantsPage = 0;
  const selected = new Set();

  // ---- formatting -------------------------------------------------------
  const fmt = {
    count: (n) => (n === null || n === undefined ? "–" : String(n)),
    rate: (r) => (r === null || r === undefined ? "–" : (r * 100).toFixed(1) + "%"),
    gini: (g) => (g === null || g === undefined ? "–" : g.toFixed(2)),
    secs: (s) => {
      if (s === null || s === undefined) return "–";
      if (s < 60) return s.toFixed(0) + " s";
      if (s < 3600) return (s / 60).toFixed(1) + " min";
      if (s < 172800) return (s / 3600).toFixed(1) + " h";
      return (s / 86400).toFixed(1) + " d";
    },
    time: (iso) => {
      const d = new Date(iso);
      return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    },
    dateTime: (iso) => {
      const d = new Date(iso);
      return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    },
  };

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      e.setAttribute(k, k === "aria-label" || k === "placeholder" ? say(v) : v);
    }
    if (text !== undefined) e.textContent = say(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = say(text);
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // Draws a chart in its on-screen pixel width, so text stays legible and
  // the chart keeps its height on a phone and on a wide screen alike.
  function fitWidth(chart, fallback) {
    const w = Math.round(chart.getBoundingClientRect().width) || fallback;
    const h = chart.getAttribute("data-height") || (chart.viewBox.baseVal && chart.viewBox.baseVal.height) || 220;
    chart.setAttribute("data-height", h);
    chart.setAttribute("viewBox", "0 0 " + w + " " + h);
    return w;
  }

  // Sets a headline figure: its text, and its raw value for tools and tests.
  function figure(name, raw, text) {
    for (const node of document.querySelectorAll('[data-figure="' + name + '"]')) {
      node.textContent = text;
      node.setAttribute("data-value", raw === null || raw === undefined ? "" : String(raw));
    }
  }

  // ---- headline ---------------------------------------------------------
  function headline(s) {
    const o = s.overall;
    figure("match_rate", o.match_rate, fmt.rate(o.match_rate));
    figure("saw_slate", o.funnel.saw_slate, fmt.count(o.funnel.saw_slate));
    figure("slates_served", o.slates_served, fmt.count(o.slates_served));
    figure("bookings_confirmed", o.bookings.confirmed, fmt.count(o.bookings.confirmed));
    figure("bookings_cancelled", o.bookings.cancelled, fmt.count(o.bookings.cancelled));
    figure("time_to_match_p50", o.time_to_match_seconds.p50, fmt.secs(o.time_to_match_seconds.p50));
    figure("time_to_match_p95", o.time_to_match_seconds.p95, fmt.secs(o.time_to_match_seconds.p95));
    figure("calls_completed", o.funnel.completed, fmt.count(o.funnel.completed));
    figure("calls_connected", o.funnel.call_connected, fmt.count(o.funnel.call_connected));
    figure("time_to_connect_p50", o.time_to_connect_seconds.p50, fmt.secs(o.time_to_connect_seconds.p50));
    figure("time_to_connect_p95", o.time_to_connect_seconds.p95, fmt.secs(o.time_to_connect_seconds.p95));
    figure("no_show_expert", o.no_show_rate.expert, fmt.rate(o.no_show_rate.expert));
    figure("no_show_seeker", o.no_show_rate.seeker, fmt.rate(o.no_show_rate.seeker));
    figure("utilization_ahead", o.utilization.ahead.rate, fmt.rate(o.utilization.ahead.rate));
    figure("utilization_past", o.utilization.past.rate, fmt.rate(o.utilization.past.rate));
    figure("booking_gini", o.fairness.booking_gini, fmt.gini(o.fairness.booking_gini));
    figure("exposure_gini", o.fairness.exposure_gini, fmt.gini(o.fairness.exposure_gini));
    figure("experts_with_zero_bookings", o.fairness.experts_with_zero_bookings, fmt.count(o.fairness.experts_with_zero_bookings));
    figure("experts", o.fairness.experts, fmt.count(o.fairness.experts));
    figure("hold_expiry_rate", o.holds.expiry_rate, fmt.rate(o.holds.expiry_rate));
    figure("holds_placed", o.holds.placed, fmt.count(o.holds.placed));
    figure("collision_rate", o.collisions.rate, fmt.rate(o.collisions.rate));
    figure("collisions", o.collisions.slot_unavailable, fmt.count(o.collisions.slot_unavailable));
  }

  // ---- funnel -----------------------------------------------------------
  function funnel(f) {
    const list = document.getElementById("funnel");
    clear(list);
    const steps = [
      ["Saw a slate", f.saw_slate],
      ["Held a slot", f.held],
      ["Booked", f.booked],
      ["Call connected", f.call_connected],
      ["Completed", f.completed],
    ];
    const top = Math.max(f.saw_slate, 1);
    steps.forEach(([label, n], i) => {
      const li = el("li", { "data-step": String(i) });
      li.appendChild(el("span", {}, label));
      const track = el("div", { class: "track" });
      const fill = el("div", { class: "fill" });
      fill.style.width = ((100 * n) / top).toFixed(1) + "%";
      track.appendChild(fill);
      li.appendChild(track);
      const num = el("span", { class: "num" }, String(n));
      if (i > 0) num.appendChild(el("small", {}, f.saw_slate ? ((100 * n) / f.saw_slate).toFixed(0) + "%" : ""));
      li.appendChild(num);
      list.appendChild(li);
    });
  }

  // ---- time series ------------------------------------------------------
  function series(s) {
    const chart = document.getElementById("series");
    clear(chart);
    const pts = s.series.points;
    document.getElementById("bucket-label").textContent =
      s.series.bucket_seconds >= 3600 ? say("hour") : anxinWords.t("{0} minutes", s.series.bucket_seconds / 60);
    const W = fitWidth(chart, 640), H = 220, L = 34, R = 38, T = 10, B = 26;
    const w = W - L - R, h = H - T - B;
    const maxB = Math.max(1, ...pts.map((p) => p.bookings));
    const bw = w / Math.max(pts.length, 1);
    chart.appendChild(svg("line", { class: "axis", x1: L, y1: T + h, x2: L + w, y2: T + h }));
    chart.appendChild(svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, String(maxB)));
    chart.appendChild(svg("text", { x: L - 4, y: T + h, "text-anchor": "end" }, "0"));
    chart.appendChild(svg("text", { x: L + w + 4, y: T + 8 }, "100%"));
    chart.appendChild(svg("text", { x: L + w + 4, y: T + h }, "0%"));
    pts.forEach((p, i) => {
      const bh = (h * p.bookings) / maxB;
      const bar = svg("rect", { class: "bar", x: L + i * bw + bw * 0.15, y: T + h - bh, width: Math.max(bw * 0.7, 1), height: bh });
      bar.appendChild(svg("title", {}, fmt.dateTime(p.start) + ": " + p.bookings + " bookings, match rate " + fmt.rate(p.match_rate)));
      chart.appendChild(bar);
    });
    // The line breaks where a bucket had no new seekers (no rate to draw).
    let path = "";
    let gap = true;
    pts.forEach((p, i) => {
      if (p.match_rate === null) {
        gap = true;
        return;
      }
      const x = L + i * bw + bw / 2, y = T + h - h * p.match_rate;
      path += (gap ? " M" : " L") + x.toFixed(1) + " " + y.toFixed(1);
      gap = false;
      chart.appendChild(svg("circle", { class: "dot", cx: x.toFixed(1), cy: y.toFixed(1), r: 2.5 }));
    });
    if (path) chart.appendChild(svg("path", { class: "line", d: path }));
    if (pts.length) {
      chart.appendChild(svg("text", { x: L, y: H - 8 }, fmt.dateTime(pts[0].start)));
      chart.appendChild(svg("text", { x: L + w, y: H - 8, "text-anchor": "end" }, "now"));
    }
  }

  // ---- Lorenz curve and histogram ----------------------------------------
  function distribution(d) {
    const lz = document.getElementById("lorenz");
    clear(lz);
    const S = 200, O = 10;
    lz.appendChild(svg("rect", { class: "axis", x: O, y: O, width: S, height: S, fill: "none" }));
    lz.appendChild(svg("line", { class: "diag", x1: O, y1: O + S, x2: O + S, y2: O }));
    if (d.lorenz.length) {
      let p = "M" + O + " " + (O + S);
      for (const pt of d.lorenz) p += " L" + (O + S * pt.experts).toFixed(1) + " " + (O + S - S * pt.bookings).toFixed(1);
      p += " L" + (O + S) + " " + (O + S) + " Z";
      lz.appendChild(svg("path", { class: "curve", d: p }));
    } else {
      lz.appendChild(svg("text", { x: O + S / 2, y: O + S / 2, "text-anchor": "middle" }, "no bookings yet"));
    }
    lz.appendChild(svg("text", { x: O + 4, y: O + 12 }, "share of bookings"));
    lz.appendChild(svg("text", { x: O + S - 4, y: O + S - 4, "text-anchor": "end" }, "share of experts"));

    const hg = document.getElementById("histogram");
    clear(hg);
    const W = fitWidth(hg, 260), H = 200, L = 28, B = 24, T = 24;
    const bars = d.histogram;
    const maxE = Math.max(1, ...bars.map((b) => b.experts));
    const bw = (W - L - 6) / Math.max(bars.length, 1);
    hg.appendChild(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - 6, y2: H - B }));
    hg.appendChild(svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, String(maxE)));
    bars.forEach((b, i) => {
      const bh = ((H - B - T) * b.experts) / maxE;
      const r = svg("rect", { class: "bar", x: L + i * bw + 2, y: H - B - bh, width: Math.max(bw - 4, 1), height: bh });
      r.appendChild(svg("title", {}, b.experts + " experts with " + b.bookings + " bookings"));
      hg.appendChild(r);
      if (bars.length <= 16 || i % Math.ceil(bars.length / 16) === 0)
        hg.appendChild(svg("text", { x: L + i * bw + bw / 2, y: H - 8, "text-anchor": "middle" }, String(b.bookings)));
    });
    hg.appendChild(svg("text", { x: W - 6, y: 10, "text-anchor": "end" }, "experts by number of bookings"));
  }

  // ---- call outcomes ----------------------------------------------------
  function hbars(id, counts) {
    const box = document.getElementById(id);
    clear(box);
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
    if (!entries.length) {
      box.appendChild(el("p", { class: "empty" }, "None in this window."));
      return;
    }
    const max = Math.max(...entries.map((e) => e[1]), 1);
    for (const [k, n] of entries) {
      const row = el("div", { class: "row", "data-outcome": k });
      row.appendChild(el("span", {}, OUTCOME_LABELS[k] || k));
      const track = el("div", { class: "track" });
      const fill = el("div", { class: k === "completed" ? "fill" : "fill bad" });
      fill.style.width = ((100 * n) / max).toFixed(1) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", { class: "n" }, String(n)));
      box.appendChild(row);
    }
  }

  // ---- breakdown ----------------------------------------------------------
  function breakdown(s) {
    const body = document.querySelector("#breakdown tbody");
    clear(body);
    const row = (label, f, cls) => {
      const tr = el("tr", cls ? { class: cls } : {});
      tr.appendChild(el("th", { scope: "row" }, label));
      const cells = [
        fmt.count(f.funnel.saw_slate),
        fmt.count(f.funnel.booked),
        fmt.rate(f.match_rate),
        fmt.secs(f.time_to_match_seconds.p50),
        fmt.count(f.funnel.completed),
        fmt.rate(f.holds.expiry_rate),
        fmt.rate(f.collisions.rate),
        fmt.rate(f.utilization.ahead.rate),
        fmt.gini(f.fairness.booking_gini),
        fmt.count(f.fairness.experts_with_zero_bookings),
      ];
      for (const c of cells) tr.appendChild(el("td", { class: "num" }, c));
      body.appendChild(tr);
    };
    for (const [g, label] of Object.entries(GROUPS)) {
      if (s.by_priority_group[g]) row(label, s.by_priority_group[g], "group-row");
    }
    for (const [r, f] of Object.entries(s.by_region)) row(say("Region ") + regionName(r), f);
    // An organisation's row: the bookings and calls with its experts and
    // their spread; the seekers' funnel is the Organisation filter's.
    for (const o of s.by_organisation || []) {
      const f = o.figures;
      const tr = el("tr", { class: "organisation-row", "data-organisation": o.organisation_id });
      tr.appendChild(el("th", { scope: "row" }, say("Organisation ") + o.name));
      const cells = [
        "–",
        fmt.count(f.bookings.confirmed),
        "–",
        "–",
        fmt.count(f.calls.finished_by_outcome.completed || 0),
        "–",
        "–",
        fmt.rate(f.utilization.ahead.rate),
        fmt.gini(f.fairness.booking_gini),
        fmt.count(f.fairness.experts_with_zero_bookings),
      ];
      for (const c of cells) tr.appendChild(el("td", { class: "num" }, c));
      body.appendChild(tr);
    }
    // Whose word each priority booking rests on: the host app's (vouched) or
    // the seeker's own (declared).
    const parts = [];
    for (const [g, label] of Object.entries(GROUPS)) {
      const src = (s.priority_sources || {})[g];
      if (g === "general" || !src) continue;
      parts.push(say(label) + ": " + say("declared") + " " + src.declared + " · " + say("vouched") + " " + src.vouched);
    }
    const sources = document.getElementById("group-sources");
    sources.setAttribute("data-sources", JSON.stringify(s.priority_sources || {}));
    sources.textContent = parts.length ? say("Bookings by whose word the group rests on — ") + parts.join("; ") : "";
  }

  // ---- board ----------------------------------------------------------------
  function upcoming(b) {
    const body = document.querySelector("#upcoming tbody");
    clear(body);
    document.getElementById("upcoming-empty").hidden = b.upcoming_calls.length > 0;
    for (const c of b.upcoming_calls) {
      const tr = el("tr", { "data-booking": c.booking_id });
      tr.appendChild(el("td", {}, fmt.time(c.starts_at)));
      tr.appendChild(el("td", {}, fmt.time(c.ends_at)));
      tr.appendChild(el("td", {}, c.expert_name));
      tr.appendChild(el("td", {}, c.seeker_alias));
      tr.appendChild(el("td", {}, GROUPS[c.priority_group] || c.priority_group));
      const state = el("td");
      const label = say(c.call_state.replace(/_/g, " ")) + (c.outcome ? " · " + say(OUTCOME_LABELS[c.outcome] || c.outcome) : "");
      state.appendChild(el("span", { class: "badge " + c.call_state }, label));
      tr.appendChild(state);
      tr.appendChild(el("td", { class: "num" }, String(c.attempts)));
      body.appendChild(tr);
    }
  }

  function pending(b) {
    const body = document.querySelector("#pending tbody");
    clear(body);
    document.getElementById("pending-empty").hidden = b.pending_experts.length > 0;
    const pages = Math.max(1, Math.ceil(b.pending_total / 50));
    if (applicantsPage >= pages) { applicantsPage = pages - 1; }
    document.getElementById("pending-page").textContent =
      anxinWords.t("page {0} of {1} · {2} waiting", b.applicants_page + 1, pages, b.pending_total);
    document.getElementById("pending-pager").hidden = b.pending_total === 0;
    document.getElementById("pending-prev").disabled = b.applicants_page === 0;
    document.getElementById("pending-next").disabled = b.applicants_page + 1 >= pages;
    const onPage = new Set(b.pending_experts.map((e) => e.id));
    for (const id of [...selected]) if (!onPage.has(id)) selected.delete(id);
    syncSelection();
    for (const e of b.pending_experts) {
      const tr = el("tr", { "data-expert": e.id });
      const pick = el("input", { type: "checkbox", class: "pick", "aria-label": "Select this application" });
      pick.checked = selected.has(e.id);
      pick.addEventListener("change", () => {
        if (pick.checked) selected.add(e.id); else selected.delete(e.id);
        syncSelection();
      });
      const pickCell = el("td");
      pickCell.appendChild(pick);
      tr.appendChild(pickCell);
      // The name opens what they wrote about themselves.
      const who = el("details", { class: "bio" });
      who.appendChild(el("summary", {}, e.display_name));
      who.appendChild(el("p", {}, e.bio || "–"));
      if (e.training_missing.length) {
        who.appendChild(el("p", { class: "missing" }, say("Training missing: ") + e.training_missing.join(", ")));
      }
      const nameCell = el("td");
      nameCell.appendChild(who);
      tr.appendChild(nameCell);
      tr.appendChild(el("td", {}, regionName(e.region)));
      tr.appendChild(el("td", {}, e.languages.join(", ")));
      tr.appendChild(el("td", {}, e.specialties.join(", ")));
      tr.appendChild(el("td", {}, fmt.dateTime(e.applied_at)));
      const td = el("td");
      const actions = el("div", { class: "actions" });
      const approve = el("button", { type: "button", class: "approve" }, "Approve");
      const decline = el("button", { type: "button", class: "decline" }, "Decline");
      const link = el("button", { type: "button", class: "link" }, "Sign-in link");
      // Approving also makes the expert's first sign-in link.
      approve.addEventListener("click", async () => {
        // One tap must not approve: the operator sees who, and their words.
        const ask = say("Approve this volunteer? They will be shown to seekers.") + "\n\n" + e.display_name + "\n" + (e.bio || "");
        if (!window.confirm(ask)) return;
        if (await vet(e.id, "approve", [approve, decline, link])) signInLink(e);
      });
      decline.addEventListener("click", () => vet(e.id, "suspend", [approve, decline, link]));
      link.addEventListener("click", () => signInLink(e));
      actions.appendChild(approve);
      actions.appendChild(decline);
      actions.appendChild(link);
      td.appendChild(actions);
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function syncSelection() {
    const button = document.getElementById("decline-selected");
    button.disabled = selected.size === 0;
    button.textContent = say("Decline selected") + (selected.size ? " (" + selected.size + ")" : "");
    const boxes = document.querySelectorAll("#pending tbody .pick");
    document.getElementById("pending-all").checked = boxes.length > 0 && selected.size === boxes.length;
  }

  async function declineSelected() {
    if (!selected.size) return;
    if (!window.confirm(say("Decline the selected applications? They cannot be approved by mistake afterwards."))) return;
    const ids = [...selected];
    const done = await post("/ops/experts/decline", { ids }, "decline the applications");
    if (done) selected.clear();
    refresh();
  }

  // A write with the session: the JSON answer, or null after showing why not.
  async function post(path, body, what, method) {
    try {
      const r = await fetch(path, {
        method: method || "POST",
        credentials: "same-origin",
        headers: Object.assign({ "X-Anxin-Session": "1" }, body ? { "Content-Type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
      });
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) {
        showError(say("Could not ") + say(what) + ": " + (answer.message || r.status));
        return null;
      }
      return answer;
    } catch (e) {
      showError(say("Could not reach Anxin: ") + e.message);
      return null;
    }
  }

  // Region names (GET /v1/regions), so the page shows 湖北 / Hubei, not CN-HB.
  const regionNames = {};
  // Organisation kinds by their names in the one vocabulary (GET /v1/vocabulary).
  const kindNames = {};
  async function vocabulary() {
    const v = await getJson("/v1/vocabulary?lang=" + (ZH_PAGE ? "zh" : "en"));
    for (const k of v.organisation_kinds || []) kindNames[k.code] = k.label;
  }
  const regionName = (code) => regionNames[code] || code;

  // The roll-out's switches, one per region, by area.
  async function regions() {
    const list = await getJson("/v1/regions");
    const box = document.getElementById("regions");
    clear(box);
    const areas = {};
    for (const g of list) {
      regionNames[g.code] = ZH_PAGE ? g.name_zh : g.name_en;
      (areas[g.area] = areas[g.area] || []).push(g);
    }
    for (const area of ["north", "east", "central", "south", "west"]) {
      const group = el("fieldset", { class: "area" });
      group.appendChild(el("legend", {}, area));
      for (const g of areas[area] || []) {
        const box = el("input", { type: "checkbox", "data-region": g.code, "data-area": g.area });
        box.checked = g.open;
        box.addEventListener("change", async () => {
          box.disabled = true;
          const done = await post("/v1/regions/" + encodeURIComponent(g.code), { open: box.checked }, "open or close the region", "PUT");
          if (!done) box.checked = !box.checked;
          box.disabled = false;
        });
        const label = el("label");
        label.appendChild(box);
        label.appendChild(document.createTextNode(" " + regionNames[g.code]));
        group.appendChild(label);
      }
      document.getElementById("regions").appendChild(group);
    }
  }

  // Organisations: the vetting queue (from the board) and the published
  // list (GET /v1/organisations), each with its moves.
  function organisations(b) {
    const body = document.querySelector("#pending-organisations tbody");
    const key = JSON.stringify(b.pending_organisations);
    if (body.getAttribute("data-key") !== key) {
      body.setAttribute("data-key", key);
      clear(body);
      document.getElementById("pending-organisations-empty").hidden = b.pending_organisations.length > 0;
      for (const o of b.pending_organisations) {
        const tr = el("tr", { "data-organisation": o.id });
        const about = el("details", { class: "bio" });
        about.appendChild(el("summary", {}, o.name));
        about.appendChild(el("p", {}, o.description));
        const cell = el("td");
        cell.appendChild(about);
        tr.appendChild(cell);
        tr.appendChild(el("td", {}, kindNames[o.kind] || o.kind));
        tr.appendChild(el("td", {}, regionName(o.region)));
        tr.appendChild(el("td", {}, o.contact_name + " · " + o.contact_phone));
        tr.appendChild(el("td", {}, fmt.dateTime(o.applied_at)));
        const acts = el("div", { class: "actions" });
        const approve = el("button", { type: "button", class: "approve" }, "Approve");
        const reject = el("button", { type: "button", class: "decline" }, "Reject");
        approve.addEventListener("click", async () => {
          const batch = window.prompt(say("Batch to publish it in (empty: the latest batch)"), "");
          if (batch === null) return;
          const body = batch.trim() ? { batch: Number(batch.trim()) } : null;
          await post("/v1/organisations/" + encodeURIComponent(o.id) + "/approve", body, "approve the organisation");
          refresh();
        });
        reject.addEventListener("click", async () => {
          const reason = window.prompt(say("Why is it rejected? The organisation is told."), "");
          if (!reason || !reason.trim()) return;
          await post("/v1/organisations/" + encodeURIComponent(o.id) + "/reject", { reason: reason.trim() }, "reject the organisation");
          refresh();
        });
        acts.appendChild(approve);
        acts.appendChild(reject);
        const td = el("td");
        td.appendChild(acts);
        tr.appendChild(td);
        body.appendChild(tr);
      }
    }
    getJson("/v1/organisations").then((list) => {
      const ul = document.getElementById("published-organisations");
      const k = JSON.stringify(list);
      if (ul.getAttribute("data-key") === k) return;
      ul.setAttribute("data-key", k);
      clear(ul);
      for (const o of list) {
        const li = el("li", { "data-organisation": o.id });
        li.appendChild(el("span", {}, o.name + " · " + (kindNames[o.kind] || o.kind) + " · " + regionName(o.region) + " · " + say("batch") + " " + o.batch));
        const stop = el("button", { type: "button", class: "decline" }, "Suspend");
        stop.addEventListener("click", async () => {
          if (!window.confirm(say("Suspend this organisation? Its experts are suspended too; their upcoming calls are handed over or cancelled and refunded."))) return;
          await post("/v1/organisations/" + encodeURIComponent(o.id) + "/suspend", null, "suspend the organisation");
          refresh();
        });
        const acts = el("div", { class: "actions" });
        acts.appendChild(stop);
        li.appendChild(acts);
        ul.appendChild(li);
      }
    }).catch((e) => showError(e.message));
  }

  async function vet(id, action, buttons) {
    buttons.forEach((b) => (b.disabled = true));
    const done = await post("/ops/experts/" + encodeURIComponent(id) + "/" + action, null, action + " the expert");
    refresh();
    return done !== null;
  }

  async function signInLink(expert) {
    const link = await post("/v1/experts/" + encodeURIComponent(expert.id) + "/sign-in-links", null, "make a sign-in link");
    if (!link) return;
    document.getElementById("link-for").textContent = expert.display_name;
    const box = document.getElementById("link-url");
    box.value = link.url;
    document.getElementById("link-box").hidden = false;
    box.focus();
    box.select();
  }

  function referrals(b) {
    const counts = b.open_referrals;
    document.getElementById("referrals-open").textContent = String(counts.emergency + counts.urgent + counts.routine);
    document.getElementById("referrals-emergency").textContent = String(counts.emergency);
    document.getElementById("referrals-urgent").textContent = String(counts.urgent);
    document.getElementById("referrals-routine").textContent = String(counts.routine);
    document.getElementById("referral-card").classList.toggle("alarm", counts.emergency > 0);
    document.getElementById("referral-card").classList.toggle("warn", counts.emergency === 0 && counts.urgent > 0);
    const body = document.querySelector("#referrals tbody");
    // Redrawn only when the list changed, so a resolution being typed stays.
    const key = JSON.stringify(b.referrals);
    if (body.getAttribute("data-key") === key) return;
    body.setAttribute("data-key", key);
    clear(body);
    document.getElementById("referrals-empty").hidden = b.referrals.length > 0;
    for (const r of b.referrals) {
      const tr = el("tr", { "data-referral": r.referral_id, class: "urgency-" + r.urgency });
      const badge = el("td");
      badge.appendChild(el("span", { class: "badge urgency " + r.urgency }, r.urgency));
      tr.appendChild(badge);
      tr.appendChild(el("td", {}, r.seeker_alias));
      tr.appendChild(el("td", {}, r.region ? regionName(r.region) : "–"));
      tr.appendChild(el("td", {}, fmt.dateTime(r.created_at)));
      const td = el("td");
      const actions = el("div", { class: "actions" });
      const how = el("select", { "aria-label": "Resolution" });
      for (const [v, label] of [["referred", "Referred to a centre"], ["contacted", "Contacted"], ["not_needed", "Not needed"]]) {
        how.appendChild(el("option", { value: v }, label));
      }
      const centre = el("input", { "aria-label": "Centre", placeholder: "Centre", maxlength: "200" });
      // Where to refer: the seeker's region's directory (/v1/resources).
      const place = el("select", { "aria-label": "Referred to", class: "resource" });
      place.appendChild(el("option", { value: "" }, "Referred to…"));
      if (r.region) {
        resources(r.region).then((list) => {
          for (const x of list) place.appendChild(el("option", { value: x.id }, x.name + " · " + x.phone));
        }).catch(() => {});
      }
      const resolve = el("button", { type: "button", class: "approve" }, "Resolve");
      resolve.addEventListener("click", async () => {
        resolve.disabled = true;
        const body = { resolution: how.value };
        if (centre.value.trim()) body.centre = centre.value.trim();
        if (place.value) {
          body.resource_id = place.value;
          if (!body.centre) body.centre = place.selectedOptions[0].textContent.split(" · ")[0];
        }
        await post("/v1/ops/referrals/" + encodeURIComponent(r.referral_id) + "/resolve", body, "resolve the referral");
        refresh();
      });
      actions.appendChild(how);
      actions.appendChild(place);
      actions.appendChild(centre);
      actions.appendChild(resolve);
      td.appendChild(actions);
      tr.appendChild(td);
      tr.appendChild(callbackCell(r));
      body.appendChild(tr);
    }
  }

  // Each region's directory, read once per page.
  const directory = {};
  function resources(region) {
    if (!directory[region]) directory[region] = getJson("/v1/resources?region=" + encodeURIComponent(region));
    return directory[region];
  }

  // A masked callback: the worker rings the operator's phone first, then the
  // seeker's; each sees the platform's number. The operator's number is sent
  // once and not kept by the page.
  const CALL_STATES = {
    scheduled: "Queued",
    dialing_expert: "Ringing your phone…",
    dialing_seeker: "Ringing the seeker…",
    bridged: "Connected",
    retry_waiting: "Waiting to retry",
  };

  function callbackCell(r) {
    const td = el("td");
    const c = r.callback;
    const live = c && c.call_state !== "ended" && c.call_state !== "cancelled";
    if (c) {
      const text = live ? say(CALL_STATES[c.call_state] || c.call_state) : say("Last callback: ") + say((c.outcome || c.call_state).replace(/_/g, " "));
      td.appendChild(el("div", { class: "callback-state", role: "status" }, text));
    }
    if (live) return td;
    const form = el("form", { class: "actions callback" });
    const phone = el("input", {
      type: "tel",
      autocomplete: "tel",
      required: "",
      "aria-label": "Your phone (E.164)",
      placeholder: "+86…",
    });
    const call = el("button", { type: "submit" }, "Call back");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      call.disabled = true;
      await post("/v1/ops/referrals/" + encodeURIComponent(r.referral_id) + "/callback", { operator_phone: phone.value }, "call the seeker back");
      refresh();
    });
    form.appendChild(phone);
    form.appendChild(call);
    td.appendChild(form);
    return td;
  }

  // ---- polling --------------------------------------------------------------
  function showError(text) {
    const box = document.getElementById("error");
    box.textContent = text;
    box.hidden = !text;
  }

  async function getJson(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401 || r.status === 403) {
      // The session ended (or belongs to someone who may not see this):
      // reloading shows the sign-in page.
      window.location.reload();
      throw new Error("signed out");
    }
    if (!r.ok) throw new Error(url + " answered " + r.status);
    return r.json();
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    const dot = document.getElementById("live-dot");
    try {
      const [s, b] = await Promise.all([
        getJson("/v1/ops/summary?window=" + encodeURIComponent(windowName) + placeQuery()),
        getJson("/v1/ops/board?applicants_page=" + applicantsPage),
      ]);
      last = s;
      headline(s);
      funnel(s.overall.funnel);
      document.getElementById("help-now-card").hidden = !s.help_now;
      if (s.help_now) {
        const h = s.help_now;
        const secs = (v) => (v == null ? "–" : Math.round(v) + " s");
        document.getElementById("help-now-rate").textContent = h.requested ? Math.round(h.answer_rate * 100) + "%" : "–";
        for (const [id, v] of [["connected", h.connected], ["requested", h.requested], ["p50", secs(h.wait_p50_s)],
          ["p95", secs(h.wait_p95_s)], ["abandoned", h.abandoned], ["rollovers", h.rollovers], ["on-duty", h.on_duty]]) {
          document.getElementById("help-now-" + id).textContent = String(v);
        }
      }
      document.getElementById("waitlist-card").hidden = !s.waitlist;
      if (s.waitlist) {
        for (const k of ["waiting", "offered", "booked"]) {
          document.getElementById("waitlist-" + k).textContent = String(s.waitlist[k]);
        }
      }
      series(s);
      distribution(s.booking_distribution);
      hbars("outcomes-finished", s.overall.calls.finished_by_outcome);
      hbars("outcomes-attempts", s.overall.calls.attempts_by_outcome);
      breakdown(s);
      upcoming(b);
      pending(b);
      referrals(b);
      organisations(b);
      keepToArea(b.area);
      for (const k of ["paid", "refunded", "abandoned"]) {
        document.getElementById("payments-" + k).textContent = String(b.payments[k]);
      }
      document.getElementById("debriefs-overdue").textContent = String(b.debriefs.overdue);
      document.getElementById("debriefs-open").textContent = String(b.debriefs.open);
      document.getElementById("debrief-card").classList.toggle("warn", b.debriefs.overdue > 0);
      const hooks = b.webhooks;
      document.getElementById("webhook-card").hidden = !hooks.enabled;
      document.getElementById("webhook-card").classList.toggle("alarm", hooks.failed > 0);
      document.getElementById("webhooks-pending").textContent = String(hooks.pending);
      document.getElementById("webhooks-failed").textContent = String(hooks.failed);
      document.getElementById("webhooks-oldest").textContent = hooks.oldest_undelivered ? fmt.dateTime(hooks.oldest_undelivered) : "–";
      showError("");
      dot.className = "dot live";
      document.getElementById("updated").textContent =
        say("live · updated ") + new Date(s.until).toLocaleTimeString() + " (" + s.query_ms + " ms)";
      document.body.setAttribute("data-window", s.window);
      document.body.setAttribute("data-updated", s.until);
    } catch (e) {
      dot.className = "dot stale";
      showError(say("Figures may be stale: ") + e.message);
    } finally {
      inFlight = false;
    }
  }

  // The place the figures are narrowed to (every filter left empty: all).
  function placeQuery() {
    let q = "";
    for (const f of ["area", "region", "organisation"]) {
      const v = document.getElementById("filter-" + f).value;
      if (v) q += "&" + f + "=" + encodeURIComponent(v);
    }
    return q;
  }

  // A region's options follow the chosen area; a region outside it is let go.
  function syncPlace() {
    const area = document.getElementById("filter-area").value;
    const region = document.getElementById("filter-region");
    for (const o of region.options) {
      if (o.value) o.hidden = !!area && o.getAttribute("data-area") !== area;
    }
    if (region.selectedOptions[0] && region.selectedOptions[0].hidden) region.value = "";
    document.body.setAttribute("data-place", placeQuery());
  }

  async function placeChoices() {
    const [regionList, orgs] = await Promise.all([getJson("/v1/regions"), getJson("/v1/organisations")]);
    const region = document.getElementById("filter-region");
    for (const g of regionList) {
      region.appendChild(el("option", { value: g.code, "data-area": g.area }, ZH_PAGE ? g.name_zh : g.name_en));
    }
    const org = document.getElementById("filter-organisation");
    for (const o of orgs) org.appendChild(el("option", { value: o.id }, o.name));
    for (const f of ["area", "region", "organisation"]) {
      document.getElementById("filter-" + f).addEventListener("change", () => { syncPlace(); refresh(); });
    }
  }

  // An area's operator: the area is fixed, and only its regions can be
  // chosen or switched (the server holds them to it in any case).
  function keepToArea(area) {
    const select = document.getElementById("filter-area");
    if (!area || select.disabled) return;
    select.value = area;
    select.disabled = true;
    syncPlace();
    for (const box of document.querySelectorAll("#regions input[data-area]")) {
      if (box.getAttribute("data-area") !== area) box.disabled = true;
    }
  }

  function selectWindow(name) {
    windowName = name;
    localStorage.setItem("anxin.ops.window", name);
    for (const b of document.querySelectorAll(".windows button")) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-window") === name));
    }
    refresh();
  }

  function start() {
    translatePage();
    document.getElementById("decline-selected").addEventListener("click", declineSelected);
    document.getElementById("pending-prev").addEventListener("click", () => { applicantsPage = Math.max(0, applicantsPage - 1); selected.clear(); refresh(); });
    document.getElementById("pending-next").addEventListener("click", () => { applicantsPage += 1; selected.clear(); refresh(); });
    document.getElementById("pending-all").addEventListener("change", (ev) => {
      for (const box of document.querySelectorAll("#pending tbody .pick")) {
        box.checked = ev.target.checked;
        const id = box.closest("tr").getAttribute("data-expert");
        if (box.checked) selected.add(id); else selected.delete(id);
      }
      syncSelection();
    });
    for (const b of document.querySelectorAll(".windows button")) {
      b.addEventListener("click", () => selectWindow(b.getAttribute("data-window")));
    }
    document.getElementById("sign-out").addEventListener("click", async () => {
      await fetch("/v1/sessions/end", { method: "POST", credentials: "same-origin", headers: { "X-Anxin-Session": "1" } });
      window.location.href = "/ops";
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refresh();
    });
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        if (!last) return;
        series(last);
        distribution(last.booking_distribution);
      }, 150);
    });
    // Names first, so the first drawing shows regions by name.
    Promise.all([regions(), placeChoices(), vocabulary()]).catch((e) => showError(e.message)).finally(() => selectWindow(windowName));
    setInterval(() => {
      if (!document.hidden) refresh();
    }, POLL_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
