// The expert portal. Everything goes through the public API with the
// session cookie; writes carry X-Anxin-Session. No seeker's phone number or
// host-app identity is ever sent to this page.
"use strict";
(() => {
  const lang = document.documentElement.lang.startsWith("en") ? "en" : "zh";
  const { t, group } = anxinWords;
  const $ = (id) => document.getElementById(id);
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  let me = null;
  let overrides = [];
  let extraRanges = [];
  const seen = {};

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (v !== false && v != null) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  // `where` is the element the message shows in: the page's top line, or
  // the line beside the Save button for the hours form.
  function showError(message, where) {
    const box = where || $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // A failed call's error, as the server names it (`error` and `field`).
  class Failed extends Error {
    constructor(code, field) { super(code); this.code = code; this.field = field; }
  }

  async function api(method, path, body) {
    let r;
    try {
      r = await fetch(path, {
        method,
        credentials: "same-origin",
        headers: Object.assign({ "X-Anxin-Session": "1" }, body ? { "Content-Type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (_) {
      throw new Failed("offline");
    }
    if (r.status === 401) {
      window.location.href = "/expert";
      throw new Failed("unauthorized");
    }
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) throw new Failed((data && data.error) || "other", data && data.field);
    return data;
  }

  // A kind sentence in the page's language for a failure: the field's own
  // sentence for the hours form ("周二的时间：结束要晚于开始"), else the
  // code's; the server's English message is never shown.
  function sentence(e, sent) {
    const errors = group("errors");
    const field = (e && e.field) || "";
    const weekly = /^weekly\[(\d+)\]/.exec(field);
    if (weekly && sent) {
      const w = sent.weekly[Number(weekly[1])];
      const day = w ? group("days")[DAYS.indexOf(w.weekday)] : t("weekly");
      return t("errors.weekly", day);
    }
    const key = field.replace(/\[.*$/, "").split(".")[0];
    if (errors[key] && typeof errors[key] === "string") return errors[key];
    return errors[e && e.code] || errors.other;
  }

  const when = (iso, opts) =>
    new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", Object.assign({ timeZone: me.timezone }, opts)).format(new Date(iso));
  const dateTime = (iso) => when(iso, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

  // ---- My hours -----------------------------------------------------------
  function renderWeekly(a) {
    const box = $("weekly");
    box.replaceChildren();
    extraRanges = [];
    DAYS.forEach((d, i) => {
      const ranges = (a ? a.weekly : []).filter((w) => w.weekday === d);
      extraRanges.push(...ranges.slice(1));
      const first = ranges[0];
      const open = el("input", { type: "checkbox", id: "open-" + d, checked: !!first });
      const start = el("input", { type: "time", id: "start-" + d, value: first ? first.start : "09:00", "aria-label": group("days")[i] + " " + t("from") });
      const end = el("input", { type: "time", id: "end-" + d, value: first ? (first.end === "24:00" ? "23:59" : first.end) : "17:00", "aria-label": group("days")[i] + " " + t("to") });
      const sync = () => { start.disabled = end.disabled = !open.checked; };
      open.addEventListener("change", sync);
      sync();
      box.append(el("div", { class: "day" }, el("label", { for: "open-" + d, text: group("days")[i] }), open, start, end));
    });
  }

  function renderOverrides() {
    const list = $("overrides");
    list.replaceChildren();
    overrides.sort((x, y) => (x.date + (x.start || "")).localeCompare(y.date + (y.start || "")));
    overrides.forEach((o, i) => {
      const remove = el("button", { type: "button", text: t("remove") });
      remove.addEventListener("click", () => { overrides.splice(i, 1); renderOverrides(); $("unsaved").hidden = false; });
      list.append(el("li", { class: "override" },
        el("span", { text: o.date + " · " + (o.closed ? t("closed") : o.start + "–" + o.end) }),
        el("div", { class: "actions" }, remove)));
    });
  }

  function formAvailability() {
    const weekly = [];
    for (const d of DAYS) {
      if (!$("open-" + d).checked) continue;
      const end = $("end-" + d).value === "23:59" ? "24:00" : $("end-" + d).value;
      weekly.push({ weekday: d, start: $("start-" + d).value, end });
    }
    weekly.push(...extraRanges);
    const cap = $("cap").value.trim();
    const weekCap = $("week-cap").value.trim();
    return {
      timezone: $("tz").value.trim(),
      slot_minutes: Number($("slot-minutes").value),
      weekly,
      overrides: overrides.map((o) => (o.closed ? { date: o.date, closed: true } : { date: o.date, start: o.start, end: o.end })),
      max_sessions_per_day: cap === "" ? null : Number(cap),
      max_sessions_per_week: weekCap === "" ? null : Number(weekCap),
    };
  }

  async function preview() {
    const from = new Date();
    const to = new Date(from.getTime() + 14 * 86400e3);
    const slots = await api("GET", `/v1/experts/${me.id}/slots?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
    $("preview-count").textContent = slots.length ? t("preview_count", slots.length) : t("none_open");
    const byDay = new Map();
    for (const s of slots) {
      const day = when(s.starts_at, { weekday: "short", month: "short", day: "numeric" });
      if (!byDay.has(day)) byDay.set(day, []);
      byDay.get(day).push(when(s.starts_at, { hour: "2-digit", minute: "2-digit" }));
    }
    const list = $("preview");
    list.replaceChildren();
    for (const [day, times] of byDay) list.append(el("li", {}, el("b", { text: day }), times.join(" · ")));
  }

  function wireHours() {
    // Every change waits for Save: say so beside it until saved.
    const changed = () => { $("unsaved").hidden = false; };
    $("hours-form").addEventListener("input", changed);
    $("hours-form").addEventListener("change", changed);
    window.addEventListener("beforeunload", (ev) => {
      if (!$("unsaved").hidden) ev.preventDefault();
    });
    const formError = $("form-error");
    $("ov-add").addEventListener("click", () => {
      const date = $("ov-date").value, start = $("ov-start").value, end = $("ov-end").value;
      if (!date || !start || !end) return showError(t("bad_time"), formError);
      overrides = overrides.filter((o) => !(o.date === date && o.closed));
      overrides.push({ date, start, end });
      renderOverrides();
      changed();
    });
    $("ov-close").addEventListener("click", () => {
      const date = $("ov-date").value;
      if (!date) return showError(t("bad_time"), formError);
      overrides = overrides.filter((o) => o.date !== date);
      overrides.push({ date, closed: true });
      renderOverrides();
      changed();
    });
    $("pause-add").addEventListener("click", () => {
      const from = $("pause-from").value, to = $("pause-to").value;
      if (!from || !to || to < from) return showError(t("bad_pause"), formError);
      for (let d = new Date(from + "T00:00:00Z"); d.toISOString().slice(0, 10) <= to; d.setUTCDate(d.getUTCDate() + 1)) {
        const date = d.toISOString().slice(0, 10);
        overrides = overrides.filter((o) => o.date !== date);
        overrides.push({ date, closed: true });
      }
      renderOverrides();
      changed();
    });
    $("hours-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError("", formError);
      $("saved").hidden = true;
      const sent = formAvailability();
      try {
        const saved = await api("PUT", `/v1/experts/${me.id}/availability`, sent);
        me.timezone = $("tz").value.trim();
        $("saved").textContent = t("saved", saved.open_slots) + ((saved.conflicts || []).length ? t("saved_kept", saved.conflicts.length) : "");
        $("saved").hidden = false;
        $("unsaved").hidden = true;
        await preview();
      } catch (e) {
        showError(sentence(e, sent), formError);
      }
    });
  }

  // ---- Calls ---------------------------------------------------------------
  function callLine(b) {
    const seekerGroup = group("group")[b.priority_group] || b.priority_group;
    const state = b.help_now_id ? t("help_now_call")
      : (group("call")[b.call.state] || b.call.state) + (b.call.outcome ? " · " + (group("call_outcome")[b.call.outcome] || "") : "");
    return [
      el("div", { class: "when", text: dateTime(b.starts_at) + "–" + when(b.ends_at, { hour: "2-digit", minute: "2-digit" }) }),
      el("div", { class: "meta", text: b.seeker_alias.replace(/^Seeker /, t("seeker") + " ") + " · " + seekerGroup + " · " + state }),
      b.note ? el("div", { class: "seeker-note", text: b.note }) : null,
    ];
  }

  const started = (b) => new Date(b.starts_at) <= new Date();
  // A call under way: begun, and not ended. It shows once, among the
  // upcoming calls, marked in progress and without a cancel button; its
  // outcome form comes when it has ended.
  const underWay = (b) => started(b) && b.call.state !== "ended";

  function renderUpcoming(list) {
    const ul = $("upcoming");
    ul.replaceChildren();
    $("upcoming-empty").hidden = list.length > 0;
    for (const b of list) {
      if (started(b)) {
        ul.append(el("li", { "data-booking": b.booking_id, class: "in-progress" }, ...callLine(b),
          el("div", { class: "badge", text: t("in_progress") })));
        continue;
      }
      const reason = el("input", { id: "reason-" + b.booking_id, maxlength: "300", "aria-label": t("cancel_reason"), placeholder: t("cancel_reason") });
      const cancel = el("button", { type: "button", class: "danger", text: t("cancel") });
      cancel.addEventListener("click", async () => {
        if (!window.confirm(t("cancel_confirm"))) return;
        try {
          await api("POST", `/v1/bookings/${b.booking_id}/cancel`, reason.value.trim() ? { reason: reason.value.trim() } : null);
          await refresh();
        } catch (e) {
          showError(sentence(e));
        }
      });
      ul.append(el("li", { "data-booking": b.booking_id }, ...callLine(b), el("div", { class: "actions" }, reason, cancel)));
    }
  }

  function radios(name, values, labels, checked) {
    return el("div", { class: "choices", role: "radiogroup" }, ...values.map((v, i) =>
      el("label", {}, el("input", { type: "radio", name, value: v, checked: v === checked }), " " + labels[i])));
  }

  // A help-now call the expert took, in the shape of a booked session, so
  // "After a call" lists both and records both with one form.
  const asSession = (h) => ({
    help_now_id: h.help_now_id, starts_at: h.connected_at, ends_at: h.ended_at || h.connected_at,
    seeker_alias: h.seeker_alias, priority_group: h.priority_group, note: h.note,
    call: { state: "ended" },
    outcome: h.outcome ? { outcome: h.outcome, follow_up: h.follow_up, urgency: h.urgency } : null,
  });

  function outcomeForm(b) {
    const id = b.booking_id || b.help_now_id;
    const path = b.help_now_id ? `/v1/help-now/${id}/outcome` : `/v1/bookings/${id}/outcome`;
    const urgency = el("select", { name: "urgency", id: "urgency-" + id, "aria-label": t("urgency") },
      ...["routine", "urgent", "emergency"].map((u) => el("option", { value: u, text: t(u) })));
    const urgencyRow = el("label", { hidden: true }, t("urgency") + " ", urgency);
    // Where the seeker can turn, shown with the referral: the API lists the
    // places of the seeker's region and nothing else about them.
    const places = (b.referral_resources || []).length
      ? el("div", { class: "places", hidden: true },
        el("div", { class: "meta", text: t("places") }),
        el("ul", { class: "preview" }, ...b.referral_resources.map((r) => el("li", {},
          el("b", { text: r.name }), " " + kindLabel(r.kind) + " · ",
          el("a", { href: "tel:" + r.phone.replace(/[^0-9+]/g, ""), text: r.phone }), " · " + r.hours))))
      : null;
    const form = el("form", { class: "outcome", "data-booking": id },
      el("div", { class: "meta", text: t("outcome") }),
      radios("outcome-" + id, ["completed", "seeker_absent", "cut_short"], [t("completed"), t("seeker_absent"), t("cut_short")], "completed"),
      el("div", { class: "meta", text: t("follow_up") }),
      radios("follow-" + id, ["none", "rebook", "refer"], [t("fu_none"), t("fu_rebook"), t("fu_refer")], "none"),
      urgencyRow,
      places,
      el("label", {}, t("note"), el("textarea", { name: "note", maxlength: "2000" })),
      el("div", { class: "meta", text: t("wellbeing") }),
      radios("wellbeing-" + id, ["1", "2", "3", "4", "5"], Object.values(group("wb")).map((w, i) => `${i + 1} ${w}`), null),
      el("label", {}, el("input", { type: "checkbox", name: "debrief" }), " " + t("want_debrief")),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "approve", text: t("record") })));
    form.addEventListener("change", () => {
      urgencyRow.hidden = form.querySelector(`input[name="follow-${id}"]:checked`).value !== "refer";
      if (places) places.hidden = urgencyRow.hidden;
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const followUp = form.querySelector(`input[name="follow-${id}"]:checked`).value;
      const body = {
        outcome: form.querySelector(`input[name="outcome-${id}"]:checked`).value,
        follow_up: followUp,
        note: form.querySelector("textarea").value,
      };
      if (followUp === "refer") body.urgency = urgency.value;
      const wellbeing = form.querySelector(`input[name="wellbeing-${id}"]:checked`);
      if (wellbeing) body.wellbeing = Number(wellbeing.value);
      body.debrief = form.querySelector("input[name=debrief]").checked;
      try {
        await api("POST", path, body);
        seen.past = null;
        await refresh();
      } catch (e) {
        showError(sentence(e));
      }
    });
    return form;
  }

  function renderPast(list) {
    const ul = $("past");
    ul.replaceChildren();
    $("past-empty").hidden = list.length > 0;
    for (const b of list) {
      const li = el("li", b.help_now_id ? { "data-help-now": b.help_now_id } : { "data-booking": b.booking_id }, ...callLine(b));
      if (b.outcome) {
        const o = b.outcome;
        const fu = o.follow_up === "refer" ? t("referral") + " · " + t(o.urgency) : t("fu_" + o.follow_up);
        li.append(el("div", { class: "recorded" + (o.urgency === "emergency" ? " urgency-emergency" : ""),
          text: t("recorded") + ": " + t(o.outcome) + " · " + fu }));
        if (o.note) li.append(el("div", { class: "seeker-note", text: o.note }));
      } else {
        li.append(outcomeForm(b));
      }
      ul.append(li);
    }
  }

  // The resource kinds' labels, from the one vocabulary pages read.
  let kinds = [];
  const kindLabel = (code) => (kinds.find((k) => k.code === code) || { label: code }).label;

  // The training modules with this volunteer's progress; self-attest ones
  // they can mark done themselves.
  async function renderTraining() {
    const modules = await api("GET", `/v1/experts/${me.id}/training`);
    const ul = $("training");
    ul.replaceChildren();
    $("training-panel").hidden = modules.length === 0;
    for (const m of modules) {
      const li = el("li", { "data-module": m.module_id },
        el("span", { class: "when", text: m.title }),
        el("span", { class: "meta", text: (m.required ? t("required") : t("optional")) +
          (m.completed_at ? " · " + t("done_at") + " " + when(m.completed_at, { month: "short", day: "numeric" }) : m.self_attest ? "" : " · " + t("by_supervisor")) }));
      if (m.url) li.append(el("a", { href: m.url, rel: "noopener", text: m.url }));
      if (!m.completed_at && m.self_attest) {
        const b = el("button", { type: "button", class: "approve", text: t("attest") });
        b.addEventListener("click", async () => {
          try {
            await api("POST", `/v1/experts/${me.id}/training/${m.module_id}`);
            await renderTraining();
          } catch (e) {
            showError(sentence(e));
          }
        });
        li.append(el("div", { class: "actions" }, b));
      }
      ul.append(li);
    }
  }

  // A debrief a hard call opened: when the supervisor will talk it over.
  async function renderDebriefs() {
    const open = me.supervisor ? [] : await api("GET", "/v1/supervision/debriefs?status=open");
    const box = $("debrief-arranged");
    box.hidden = open.length === 0;
    if (open.length) box.textContent = t("debrief_arranged", dateTime(open[0].due_at));
  }

  // On duty: help-now calls may ring this expert's phone.
  function drawDuty(d) {
    $("duty-state").textContent = !d.on_duty ? t("duty_none")
      : d.until ? t("duty_until", dateTime(d.until)) : t("duty_open_now");
    $("duty-on").hidden = d.on_duty;
    $("duty-for-label").hidden = d.on_duty;
    $("duty-off").hidden = !d.on_duty;
  }

  function wireDuty() {
    $("duty-on").addEventListener("click", async () => {
      const minutes = Number($("duty-for").value);
      const body = { on_duty: true };
      if (minutes) body.until = new Date(Date.now() + minutes * 60000).toISOString();
      try { drawDuty(await api("PUT", "/v1/experts/me/duty", body)); showError(""); } catch (e) { showError(sentence(e)); }
    });
    $("duty-off").addEventListener("click", async () => {
      try { drawDuty(await api("PUT", "/v1/experts/me/duty", { on_duty: false })); showError(""); } catch (e) { showError(sentence(e)); }
    });
  }

  async function refresh() {
    try {
      if (!kinds.length) {
        kinds = (await api("GET", `/v1/vocabulary?lang=${lang}`)).resource_kinds || [];
      }
      const [ahead, before, taken] = await Promise.all([
        api("GET", "/v1/experts/me/bookings"),
        api("GET", "/v1/experts/me/bookings?when=past"),
        me.status === "approved" ? api("GET", "/v1/experts/me/help-now") : [],
      ]);
      const upcoming = ahead.filter((b) => !started(b) || underWay(b));
      const past = before.filter((b) => !underWay(b))
        .concat(taken.filter((h) => h.status !== "connected").map(asSession))
        .sort((a, b) => new Date(b.starts_at) - new Date(a.starts_at));
      // Redrawn only when something changed, so a form being filled stays.
      const u = JSON.stringify(upcoming), p = JSON.stringify(past);
      if (u !== seen.upcoming) { seen.upcoming = u; renderUpcoming(upcoming); }
      if (p !== seen.past) { seen.past = p; renderPast(past); await renderDebriefs(); }
    } catch (e) {
      showError(sentence(e));
    }
  }

  async function start() {
    $("sign-out").addEventListener("click", async () => {
      await api("POST", "/v1/sessions/end").catch(() => {});
      window.location.href = "/expert";
    });
    try {
      me = await api("GET", "/v1/experts/me");
    } catch (e) {
      return showError(sentence(e));
    }
    $("who").textContent = me.display_name;
    if (me.supervisor) {
      $("supervise-link").hidden = false;
      $("supervise-link").textContent = t("supervise");
    }
    const a = me.availability;
    $("tz").value = a ? a.timezone : me.timezone;
    if (a) $("slot-minutes").value = String(a.slot_minutes);
    if (a && ![...$("slot-minutes").options].some((o) => o.value === String(a.slot_minutes))) {
      $("slot-minutes").append(el("option", { text: String(a.slot_minutes) }));
      $("slot-minutes").value = String(a.slot_minutes);
    }
    $("cap").value = a && a.max_sessions_per_day ? a.max_sessions_per_day : "";
    $("week-cap").value = a && a.max_sessions_per_week ? a.max_sessions_per_week : "";
    overrides = a ? a.overrides.map((o) => Object.assign({}, o)) : [];
    renderWeekly(a);
    renderOverrides();
    wireHours();
    wireDuty();
    if (me.status === "approved") drawDuty(await api("GET", "/v1/experts/me/duty").catch(() => ({ on_duty: false })));
    else $("duty").hidden = true;
    await Promise.all([refresh(), preview(), renderTraining().catch((e) => showError(sentence(e)))]);
    document.body.setAttribute("data-ready", "1");
    setInterval(refresh, 3000);
  }

  start();
})();
