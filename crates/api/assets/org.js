// An organisation's page for its administrators: its applicants (approve,
// decline) and volunteers (suspend, sign-in links), its figures and its
// open referrals, through the public API with the session cookie; writes
// carry X-Anxin-Session. Seekers appear by alias only: the API gives
// nothing else.
"use strict";
(() => {
  const lang = document.documentElement.lang.startsWith("en") ? "en" : "zh";
  const { t, group } = anxinWords;
  const $ = (id) => document.getElementById(id);
  const org = document.body.getAttribute("data-organisation");
  const dateFmt = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", { month: "short", day: "numeric" });
  const timeFmt = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai",
  });
  let windowName = "24h";
  // Names the API gives once: volunteers by id, words and regions by code.
  let names = {};
  let words = null;
  let regions = null;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) if (c) e.append(c);
    return e;
  }

  function showError(code) {
    const errors = group("errors");
    $("error").textContent = code ? errors[code] || errors.other : "";
    $("error").hidden = !code;
  }

  async function api(method, path, body) {
    let r;
    try {
      const headers = { "X-Anxin-Session": "1", Accept: "application/json" };
      if (body) headers["Content-Type"] = "application/json";
      r = await fetch(path, { method, credentials: "same-origin", headers, body: body ? JSON.stringify(body) : undefined });
    } catch (_) {
      showError("offline");
      return null;
    }
    if (r.status === 401) { window.location.reload(); return null; }
    const data = r.status === 204 ? {} : await r.json().catch(() => null);
    if (!r.ok) { showError((data && data.error) || "other"); return null; }
    return data;
  }

  async function act(path, question, method) {
    if (question && !window.confirm(question)) return;
    showError("");
    if (await api(method || "POST", path)) refresh();
  }

  function person(m, ...buttons) {
    const li = el("li", { "data-expert": m.id },
      el("div", { class: "when" }, m.display_name),
      el("div", { class: "meta" }, group("status")[m.status] + " · " + t("applied") + " " + dateFmt.format(new Date(m.applied_at))));
    if (m.bio) li.append(el("div", { class: "seeker-note" }, m.bio));
    if (m.training_missing && m.training_missing.length) {
      li.append(el("div", { class: "meta missing" }, t("training_missing") + m.training_missing.join(t("list_sep"))));
    }
    li.append(el("div", { class: "actions" }, ...buttons));
    return li;
  }

  function button(label, cls, onClick) {
    const b = el("button", { type: "button", class: cls }, label);
    b.addEventListener("click", onClick);
    return b;
  }

  async function signInLink(m) {
    const link = await api("POST", `/v1/experts/${m.id}/sign-in-links`);
    if (!link) return;
    $("link-for").textContent = m.display_name;
    $("link-url").value = link.url;
    $("link-box").hidden = false;
    $("link-url").focus();
    $("link-url").select();
  }

  const figure = (name) => document.querySelector(`#figures [data-figure="${name}"]`);
  const rate = (r) => (r === null || r === undefined ? "–" : (r * 100).toFixed(0) + "%");

  async function figures() {
    const s = await api("GET", `/v1/organisations/${org}/summary?window=${windowName}`);
    if (!s) return;
    const f = s.overall;
    figure("match_rate").textContent = rate(f.match_rate);
    figure("booking_gini").textContent = f.fairness.booking_gini === null ? "–" : f.fairness.booking_gini.toFixed(2);
    figure("zero_bookings").textContent = String(f.fairness.experts_with_zero_bookings);
    figure("experts").textContent = t(f.fairness.experts === 1 ? "of_experts_one" : "of_experts", f.fairness.experts);
    const top = Math.max(f.funnel.saw_slate, 1);
    for (const step of ["saw_slate", "held", "booked", "call_connected", "completed"]) {
      const num = figure(step);
      num.textContent = String(f.funnel[step]);
      num.parentElement.querySelector(".fill").style.width = ((100 * f.funnel[step]) / top).toFixed(1) + "%";
    }
    const outcomes = Object.entries(f.calls.finished_by_outcome).sort((a, b) => b[1] - a[1]);
    $("outcomes").replaceChildren(...outcomes.map(([k, n]) =>
      el("li", { "data-outcome": k }, el("div", { class: "meta" }, (group("outcomes")[k] || k) + " · " + n))));
    $("outcomes-empty").hidden = outcomes.length > 0;
    // Debriefs the organisation's supervisors owe its volunteers.
    const debriefs = await api("GET", "/v1/supervision/debriefs?status=open");
    if (!debriefs) return;
    const overdue = debriefs.filter((d) => d.overdue).length;
    figure("debriefs_overdue").textContent = String(overdue);
    figure("debriefs_open").textContent = String(debriefs.length);
    $("debrief-card").classList.toggle("warn", overdue > 0);
  }

  function label(list, code) {
    const w = (list || []).find((x) => x.code === code);
    return w ? w.label : code;
  }

  async function referrals() {
    if (!words) words = await api("GET", `/v1/vocabulary?lang=${lang}`);
    if (!regions) regions = await api("GET", "/v1/regions");
    const list = await api("GET", "/v1/ops/referrals?status=open");
    if (!list) return;
    const regionName = (code) => {
      const r = (regions || []).find((x) => x.code === code);
      return r ? (lang === "en" ? r.name_en : r.name_zh) : code || "";
    };
    $("referrals").replaceChildren(...list.map((r) => el("li", { "data-referral": r.referral_id },
      el("div", { class: "when" },
        el("span", { class: `badge urgency ${r.urgency}` }, label(words && words.urgencies, r.urgency)),
        " " + timeFmt.format(new Date(r.created_at))),
      el("div", { class: "meta" }, t("referral", r.seeker_alias.replace(/^Seeker /, ""), names[r.expert_id] || "–") +
        (r.region ? " · " + regionName(r.region) : "")))));
    $("referrals-empty").hidden = list.length > 0;
  }

  // The places of the organisation's region, which it keeps.
  const region = document.body.getAttribute("data-region");
  async function places() {
    const list = await api("GET", `/v1/resources?region=${encodeURIComponent(region)}`);
    if (!list) return;
    $("resources").replaceChildren(...list.map((r) => el("li", { "data-resource": r.id },
      el("div", { class: "when" }, r.name),
      el("div", { class: "meta" }, `${label(words && words.resource_kinds, r.kind)} · ${r.phone} · ${r.hours}` + (r.address ? ` · ${r.address}` : "")),
      el("div", { class: "actions" }, button(t("retire"), "danger",
        () => act(`/v1/resources/${r.id}`, t("retire_confirm", r.name), "DELETE"))))));
    $("resources-empty").hidden = list.length > 0;
  }

  $("resource-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const value = (n) => form.elements[n].value.trim();
    const body = { name: value("name"), kind: value("kind"), region, phone: value("phone"), hours: value("hours") };
    if (value("address")) body.address = value("address");
    showError("");
    if (await api("POST", "/v1/resources", body)) {
      form.reset();
      refresh();
    }
  });

  for (const b of document.querySelectorAll("#figures .windows button")) {
    b.addEventListener("click", () => {
      windowName = b.getAttribute("data-window");
      for (const o of document.querySelectorAll("#figures .windows button")) {
        o.setAttribute("aria-pressed", String(o === b));
      }
      figures();
    });
  }

  async function refresh() {
    const list = await api("GET", `/v1/organisations/${org}/experts`);
    if (!list) return;
    names = Object.fromEntries(list.map((m) => [m.id, m.display_name]));
    await Promise.all([figures(), referrals().then(places)]);
    const applicants = list.filter((m) => m.status === "applied");
    const members = list.filter((m) => m.status !== "applied");
    $("applicants").replaceChildren(...applicants.map((m) => person(m,
      button(t("approve"), "approve", () => act(`/v1/experts/${m.id}/approve`, t("approve_confirm", m.display_name))),
      button(t("decline"), "danger", () => act(`/v1/experts/${m.id}/suspend`, t("decline_confirm", m.display_name))))));
    $("applicants-empty").hidden = applicants.length > 0;
    $("members").replaceChildren(...members.map((m) => m.status === "approved"
      ? person(m,
        button(t("link"), "", () => signInLink(m)),
        button(t("suspend"), "danger", () => act(`/v1/experts/${m.id}/suspend`, t("suspend_confirm", m.display_name))))
      : person(m, button(t("approve"), "approve", () => act(`/v1/experts/${m.id}/approve`, t("approve_confirm", m.display_name))))));
    $("members-empty").hidden = members.length > 0;
    document.body.setAttribute("data-ready", "1");
  }

  $("sign-out").addEventListener("click", async () => {
    await fetch("/v1/sessions/end", { method: "POST", credentials: "same-origin", headers: { "X-Anxin-Session": "1" } }).catch(() => {});
    window.location.href = "/org";
  });
  refresh();
})();
