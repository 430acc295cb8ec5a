// The reference seeker app. The host app opens /app#token=<jwt>; the token is
// moved to sessionStorage at once (and out of the address bar), and every
// call goes through the public API with it. What the app remembers between
// pages (the cashier is another page) is in sessionStorage: this tab only.
"use strict";
(() => {
  const lang = document.documentElement.lang.startsWith("en") ? "en" : "zh";
  const { t, group } = anxinWords;
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const locale = lang === "en" ? "en-GB" : "zh-CN";
  const dayFmt = new Intl.DateTimeFormat(locale, { weekday: "short", month: "short", day: "numeric" });
  const timeFmt = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hour12: false });
  const dayKey = (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
  // "今天 14:00", "明天 09:30", else "12月9日周三 14:00"; "现在" for a slot
  // already under way. In the device's time zone, which the page names.
  function when(iso) {
    const d = new Date(iso);
    const now = new Date();
    const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
    const day = dayKey(d) === dayKey(now) ? t("today")
      : dayKey(d) === dayKey(tomorrow) ? t("tomorrow") : dayFmt.format(d);
    return day + " " + timeFmt.format(d);
  }
  const started = (iso) => new Date(iso) <= new Date();
  // An honest estimate of a help-now wait, in words.
  const waitWords = (secs) => (secs < 60 ? t("talk_wait_short") : t("talk_wait", Math.ceil(secs / 60)));
  const slotWhen = (iso) => started(iso) ? t("now_slot", when(iso)) : when(iso);
  // The device's zone by a name people use: 北京时间 for China's zone.
  function zoneName() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    if (["Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"].includes(zone)) return t("beijing");
    const part = new Intl.DateTimeFormat(locale, { timeZoneName: "long" }).formatToParts(new Date())
      .find((p) => p.type === "timeZoneName");
    return part ? part.value : zone;
  }
  let timer = null;
  let poll = null;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  }

  function showError(text) {
    $("error").textContent = text || "";
    $("error").hidden = !text;
  }

  // Shows one step; `focus` moves the keyboard and the screen reader to its
  // heading, so the change is announced (not on first load).
  function show(id, focus) {
    for (const s of ["find", "hold", "booking"]) $(s).hidden = s !== id;
    if (focus) $(id + "-h").focus();
    if (timer && id !== "hold") { clearInterval(timer); timer = null; }
    if (poll && id !== "booking") { clearInterval(poll); poll = null; }
  }

  const saved = (k) => { try { return JSON.parse(store.getItem(k)); } catch (_) { return null; } };
  const save = (k, v) => (v === null ? store.removeItem(k) : store.setItem(k, JSON.stringify(v)));

  // Answers `{ok, status, body}`; a network failure is shown and answers null.
  async function api(method, path, body, extra) {
    const headers = Object.assign({ Authorization: "Bearer " + store.getItem("anxin_token"), Accept: "application/json" }, extra || {});
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      let parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch (_) { parsed = null; }
      return { ok: r.ok, status: r.status, body: parsed };
    } catch (_) {
      showError(t("offline"));
      return null;
    }
  }

  // A kind sentence in the page's language for an error's code; the
  // server's own message (English, technical) is never shown to a seeker.
  function failed(r) {
    if (!r) return;
    const errors = group("errors");
    const code = r.body && r.body.error;
    showError(errors[code === "account_suspended" ? "unauthorized" : code] || errors.other);
  }

  // ---- finding help --------------------------------------------------------
  async function search(ev, focus) {
    if (ev) ev.preventDefault();
    showError("");
    show("find", focus);
    const group = $("group").value;
    if (group && group !== saved("group")) {
      const r = await api("PUT", "/v1/seekers/me", { priority_group: group });
      if (r && r.ok) save("group", group);
    }
    const q = new URLSearchParams();
    if ($("language").value) q.set("language", $("language").value);
    if ($("topic").value) q.set("topic", $("topic").value);
    const r = await api("GET", "/v1/slate" + (q.toString() ? "?" + q : ""));
    if (!r) return;
    if (!r.ok) return failed(r);
    drawExperts(r.body.experts, (e) => e.next_slots);
    const next = $("next-available");
    next.hidden = r.body.experts.length > 0;
    next.replaceChildren();
    const lines = r.body.hotlines || [];
    const place = lines.length ? regionName(lines[0].region) : "";
    if (r.body.service_open === false) next.append(el("p", {}, t("not_open", place || t("your_region"))));
    else if (r.body.widen) emptyFilters(next, r.body.widen);
    else next.append(r.body.earliest_start ? t("next_at", when(r.body.earliest_start)) : t("nothing_open"));
    // Where nobody is shown, the region's own hotlines, each one tap away.
    if (lines.length) {
      next.append(el("p", {}, t("local_hotlines", place || t("your_region_short"))));
      const list = el("ul", { class: "hotlines" });
      for (const h of lines) {
        list.append(el("li", {}, h.name + " ", el("a", { href: "tel:" + h.phone.replace(/[^0-9+]/g, "") }, h.phone), " · " + h.hours));
      }
      next.append(list);
    }
    if (r.body.experts.length === 0 && r.body.service_open !== false) offerToWait(next);
    $("crisis").classList.toggle("urgent", r.body.experts.length === 0);
  }

  // ---- the waitlist --------------------------------------------------------
  // Nothing suits now: wait for a time that does (these filters); when one
  // opens the service holds it for this seeker, and the page goes to the
  // hold's step by itself.
  function offerToWait(box) {
    const b = el("button", { type: "button", id: "wait", class: "primary" }, t("wait_offer"));
    b.addEventListener("click", async () => {
      b.disabled = true;
      const body = {};
      if ($("language").value) body.language = $("language").value;
      if ($("topic").value) body.topic = $("topic").value;
      const r = await api("POST", "/v1/waitlist", body);
      b.disabled = false;
      if (!r) return;
      if (!r.ok) return failed(r);
      save("waitlist", r.body.waitlist_id);
      waitStep();
    });
    box.append(b);
  }

  let waitTimer = null;
  async function waitStep() {
    const id = saved("waitlist");
    if (!id) return search();
    const r = await api("GET", "/v1/waitlist/" + id);
    if (!r) return;
    if (!r.ok) { save("waitlist", null); return search(); }
    const w = r.body;
    if (w.status === "offered" && w.offer) {
      save("waitlist", null);
      save("hold", { hold_id: w.offer.hold_id, expires_at: w.offer.expires_at, starts_at: w.offer.starts_at, name: w.offer.display_name });
      save("payment", null);
      return holdStep(true);
    }
    if (w.status !== "waiting") {
      save("waitlist", null);
      await search();
      if (w.status === "expired") showError(t("wait_again"));
      return;
    }
    const next = $("next-available");
    next.hidden = false;
    next.replaceChildren(el("h3", {}, t("wait_h")), el("p", { id: "waiting" }, t("waiting", w.position)));
    const stop = el("button", { type: "button", id: "wait-stop" }, t("wait_stop"));
    stop.addEventListener("click", async () => {
      clearTimeout(waitTimer);
      await api("DELETE", "/v1/waitlist/" + id);
      save("waitlist", null);
      search(null, true);
    });
    next.append(stop);
    clearTimeout(waitTimer);
    waitTimer = setTimeout(waitStep, 3000);
  }

  // Filters that leave nobody: say which, how many each one excluded, and
  // offer to drop it in one tap.
  function emptyFilters(box, widen) {
    const said = [];
    if ($("language").value) said.push(t("f_language", word("languages", $("language").value)));
    if ($("topic").value) said.push(t("f_topic", lang === "en" ? word("topics", $("topic").value).toLowerCase() : word("topics", $("topic").value)));
    box.append(el("p", {}, t("none_match", said.join(t("and")))));
    const row = el("div", { class: "row widen" });
    const offer = (count, label, drop) => {
      if (!count) return;
      const b = el("button", { type: "button", "data-widen": drop.join(" ") }, label(count));
      b.addEventListener("click", () => {
        for (const id of drop) $(id).value = "";
        search(null, true);
      });
      row.append(b);
    };
    offer(widen.without_language, (n) => t("widen_language", n), ["language"]);
    offer(widen.without_topic, (n) => t("widen_topic", n), ["topic"]);
    if (widen.without_language !== undefined && widen.without_topic !== undefined)
      offer(widen.without_filters, (n) => t("widen_all", n), ["language", "topic"]);
    if (row.childElementCount) box.append(row);
    else box.append(el("p", {}, t("nothing_open")));
  }

  // What codes are called (topics, languages), from GET /v1/vocabulary: the
  // one list the server keeps, so every topic experts can choose is here.
  const words = { topics: {}, languages: {} };
  const word = (kind, code) => words[kind][code] || code;
  const named = (kind, codes) => codes.map((c) => word(kind, c)).join(t("list_sep"));

  // Region names from GET /v1/regions, for what the page says of a region.
  const regionNames = {};
  const regionName = (code) => regionNames[code] || "";
  async function loadRegions() {
    const r = await api("GET", "/v1/regions");
    if (!r || !r.ok) return;
    for (const g of r.body) regionNames[g.code] = lang === "en" ? g.name_en : g.name_zh;
  }

  async function loadVocabulary() {
    const r = await api("GET", "/v1/vocabulary?lang=" + lang);
    if (!r || !r.ok) return;
    for (const [kind, id] of [["topics", "topic"], ["languages", "language"]]) {
      const select = $(id);
      for (const w of r.body[kind]) {
        words[kind][w.code] = w.label;
        select.append(el("option", { value: w.code }, w.label));
      }
    }
  }

  function drawExperts(experts, slotsOf) {
    const list = $("experts");
    list.replaceChildren();
    for (const e of experts) {
      const li = el("li", { "data-expert": e.expert_id }, el("span", { class: "name" }, e.display_name));
      if (e.local) li.append(el("span", { class: "local" }, t("local")));
      if (e.languages) li.append(el("span", { class: "muted" }, t("langs") + t("colon") + named("languages", e.languages) + " · " + t("topics") + t("colon") + named("topics", e.specialties)));
      const slots = el("div", { class: "slots" });
      for (const s of slotsOf(e)) {
        const b = el("button", { type: "button", "data-slot": s.slot_id, "aria-label": t("slot_label", e.display_name, slotWhen(s.starts_at)) }, slotWhen(s.starts_at));
        b.addEventListener("click", () => hold(e, s, b));
        slots.append(b);
      }
      li.append(slots);
      list.append(li);
    }
  }

  // ---- the hold and the fee ------------------------------------------------
  async function hold(expert, slot, button) {
    button.disabled = true;
    showError("");
    const r = await api("POST", "/v1/holds", { slot_id: slot.slot_id });
    button.disabled = false;
    if (!r) return;
    if (r.status === 409) {
      showError(t(r.body && r.body.error === "hold_limit" ? "hold_limit" : "held_by_other"));
      return search();
    }
    if (!r.ok) return failed(r);
    save("hold", { hold_id: r.body.hold_id, expires_at: r.body.expires_at, starts_at: slot.starts_at, name: expert.display_name });
    save("payment", null);
    await holdStep(true);
  }

  async function holdStep(focus) {
    const h = saved("hold");
    if (!h) return search();
    show("hold", focus);
    $("hold-when").textContent = h.name + " · " + when(h.starts_at);
    let paid = false;
    const p = await api("POST", "/v1/holds/" + h.hold_id + "/payment");
    if (!p) return;
    if (p.status === 409 && p.body && p.body.error === "invalid_transition") {
      paid = true; // no fee is taken here
    } else if (p.status === 409) {
      return lapse("expired");
    } else if (!p.ok) {
      return failed(p);
    } else {
      h.expires_at = p.body.expires_at;
      save("hold", h);
      save("payment", p.body.payment_id);
      paid = p.body.status === "paid";
      if (p.body.status === "expired") return lapse("pay_expired");
      $("amount").textContent = t("yuan", (p.body.amount_minor / 100).toFixed(2));
      $("simulated").hidden = !p.body.simulated;
      $("pay-link").href = p.body.pay_url;
    }
    $("pay").hidden = paid;
    $("details").hidden = !paid;
    countdown(h.expires_at);
  }

  function countdown(until) {
    if (timer) clearInterval(timer);
    const tick = () => {
      const left = Math.max(0, Math.round((new Date(until) - Date.now()) / 1000));
      $("countdown").textContent = t("min_sec", Math.floor(left / 60), String(left % 60).padStart(2, "0"));
      if (left === 0) lapse("expired");
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  function lapse(why) {
    save("hold", null);
    save("payment", null);
    showError(t(why));
    search(null, true);
  }

  async function release() {
    const h = saved("hold");
    if (h) await api("DELETE", "/v1/holds/" + h.hold_id);
    save("hold", null);
    save("payment", null);
    search(null, true);
  }

  async function confirm(ev) {
    ev.preventDefault();
    const h = saved("hold");
    if (!h) return search();
    $("phone-error").hidden = true;
    const body = { hold_id: h.hold_id, phone: $("phone").value };
    if ($("note").value.trim()) body.note = $("note").value.trim();
    const submit = $("details").querySelector("button");
    submit.disabled = true;
    const r = await api("POST", "/v1/bookings", body);
    submit.disabled = false;
    if (!r) return;
    if (r.status === 422 && r.body && r.body.field === "phone") {
      $("phone-error").textContent = t("phone_bad");
      $("phone-error").hidden = false;
      $("phone").setAttribute("aria-invalid", "true");
      return $("phone").focus();
    }
    if (r.status === 402) { showError(t("pay_first")); return holdStep(); }
    if (r.status === 409 && r.body && r.body.error === "hold_expired") return lapse("expired");
    if (!r.ok) return failed(r);
    save("hold", null);
    save("payment", null);
    save("booking", { booking_id: r.body.booking_id, name: h.name, phone: r.body.phone_masked });
    $("phone").value = "";
    $("note").value = "";
    bookingStep(true);
    history();
  }

  // ---- the booking and its call --------------------------------------------
  function bookingStep(focus) {
    const b = saved("booking");
    if (!b) return search();
    show("booking", focus);
    $("booking-phone").textContent = b.phone || "";
    refreshBooking();
    if (!poll) poll = setInterval(refreshBooking, 3000);
  }

  async function refreshBooking() {
    const b = saved("booking");
    if (!b) return;
    const r = await api("GET", "/v1/bookings/" + b.booking_id);
    if (!r || !r.ok) return;
    const v = r.body;
    // The expert may have changed since booking (a handover).
    $("booking-when").textContent = (v.display_name || b.name) + " · " + when(v.starts_at);
    const moved = $("booking-reassigned");
    moved.hidden = !(v.reassigned && v.status === "confirmed");
    moved.textContent = moved.hidden ? "" : t("reassigned", v.display_name);
    if (v.display_name && v.display_name !== b.name) {
      // Handed to another expert: remember the new name and show it in the
      // history too.
      save("booking", Object.assign({}, b, { name: v.display_name }));
      history();
    }
    const status = $("booking-status");
    const [text, tone] = describe(v);
    status.textContent = text;
    status.className = "status " + tone;
    status.setAttribute("data-state", v.status === "confirmed" ? v.call.state : v.status);
    const over = v.status !== "confirmed";
    $("cancel").hidden = over;
    $("booking-h").textContent = t(v.status === "cancelled" ? "booked_cancelled_h" : "booked_h");
    $("we-call").hidden = over;
    $("we-call-label").textContent = t(started(v.starts_at) ? "call_now" : "we_call");
    if (over && poll) { clearInterval(poll); poll = null; history(); }
  }

  // What a booking's state means to the seeker, said the same way in every
  // place it shows: [sentence, tone].
  function describe(b) {
    if (b.status === "cancelled")
      return [group("outcome").cancelled + (b.cancel_reason ? " " + (b.cancel_reason === "expert_unavailable" ? t("reason_expert_unavailable") : t("reason", b.cancel_reason)) : ""), "bad"];
    if (b.call.state === "ended" && b.call.outcome)
      return [group("outcome")[b.call.outcome] || group("status")[b.status] || "", b.call.outcome === "completed" ? "ok" : "bad"];
    if (b.status === "completed") return [group("status").completed, "ok"];
    if (b.call.state === "scheduled" && started(b.starts_at)) return [group("call").starting, ""];
    return [group("call")[b.call.state] || "", ""];
  }

  // Cancelling the booking this tab shows: the same as from the list, so
  // the refund is said (when true) in the confirmation and after.
  async function cancel() {
    const b = saved("booking");
    if (!b) return;
    const r = await api("GET", "/v1/seekers/me/bookings");
    if (!r) return;
    if (!r.ok) return failed(r);
    const mine = r.body.find((x) => x.booking_id === b.booking_id);
    if (mine) await cancelFromList(mine);
    refreshBooking();
  }

  // ---- history -------------------------------------------------------------
  async function history() {
    const r = await api("GET", "/v1/seekers/me/bookings");
    if (!r || !r.ok) return;
    $("history-panel").hidden = false;
    const list = $("history");
    list.replaceChildren();
    $("history-empty").hidden = r.body.length > 0;
    showUpcoming(r.body);
    for (const b of r.body) {
      const li = el("li", { "data-booking": b.booking_id },
        el("span", { class: "when" }, when(b.starts_at)),
        el("span", { class: "name" }, b.display_name),
        el("span", { class: "muted" }, describe(b)[0]));
      const again = el("button", { type: "button", class: "again" }, t("again"));
      again.addEventListener("click", () => bookAgain(b));
      const row = el("div", { class: "row" }, again);
      if (upcoming(b)) {
        const off = el("button", { type: "button", class: "danger cancel-this" }, t("cancel_this"));
        off.addEventListener("click", () => cancelFromList(b));
        row.append(off);
      }
      li.append(row);
      list.append(li);
    }
  }

  // A booking still ahead (or under way) that can be cancelled.
  const upcoming = (b) => b.status === "confirmed" && new Date(b.ends_at) > new Date();

  // "My next call", in any tab, from the seeker's bookings (not this tab's
  // memory): what is booked, and what cancelling it would do to the fee.
  function showUpcoming(bookings) {
    const next = bookings.find(upcoming);
    const panel = $("upcoming");
    const here = saved("booking");
    if (next && !$("booking").hidden && here && here.booking_id === next.booking_id) {
      // This tab already shows it in full.
      panel.hidden = true;
      return;
    }
    if (!next) {
      // Keep a just-made cancellation's confirmation on screen.
      if (!$("upcoming-done").textContent) panel.hidden = true;
      return;
    }
    panel.hidden = false;
    panel.setAttribute("data-booking", next.booking_id);
    $("upcoming-done").textContent = "";
    $("upcoming-cancel").hidden = false;
    $("upcoming-when").textContent = next.display_name + " · " + when(next.starts_at);
    $("upcoming-state").textContent = describe(next)[0];
    // Said only when true: a fee was paid and the call has not started.
    $("upcoming-refund").textContent = next.refund_on_cancel ? t("refund_if_cancel") : "";
    $("upcoming-cancel").onclick = () => cancelFromList(next);
  }

  async function cancelFromList(b) {
    if (!window.confirm(b.refund_on_cancel ? t("cancel_confirm_refund") : t("cancel_confirm"))) return;
    const r = await api("POST", "/v1/bookings/" + b.booking_id + "/cancel", {});
    if (!r) return;
    if (!r.ok) return failed(r);
    const done = $("upcoming-done");
    $("upcoming").hidden = false;
    $("upcoming-cancel").hidden = true;
    $("upcoming-refund").textContent = "";
    $("upcoming-state").textContent = "";
    done.textContent = r.body.status === "cancelled" ? (b.refund_on_cancel ? t("cancelled_refund") : t("cancelled_plain")) : "";
    done.setAttribute("tabindex", "-1");
    done.focus();
    if (saved("booking") && saved("booking").booking_id === b.booking_id) refreshBooking();
    history();
  }

  async function bookAgain(b) {
    showError("");
    show("find", true);
    const from = new Date().toISOString();
    const r = await api("GET", "/v1/experts/" + b.expert_id + "/slots?from=" + encodeURIComponent(from));
    if (!r) return;
    if (!r.ok) return failed(r);
    const slots = r.body.slice(0, 6);
    drawExperts([{ expert_id: b.expert_id, display_name: b.display_name }], () => slots);
    $("next-available").hidden = slots.length > 0;
    $("next-available").textContent = t("again_none");
    $("find").scrollIntoView();
  }

  // ---- help now -------------------------------------------------------------
  // Whenever a volunteer is on duty: leave a number, wait in line, and the
  // volunteer who answers is put through. The request is remembered in this
  // tab, so the page picks it up again after a reload.
  let talkPoll = null;
  async function offerTalk() {
    if (saved("talk")) return talkStep();
    const r = await api("GET", "/v1/help-now");
    const on = r && r.ok && r.body.on_duty > 0;
    $("talk").hidden = !on;
    if (!on) return;
    $("talk-intro").textContent = t(r.body.on_duty === 1 ? "talk_intro_one" : "talk_intro", r.body.on_duty, waitWords(r.body.estimated_wait_seconds || 0));
    $("talk-intro").hidden = false;
    $("talk-form").hidden = false;
    $("talk-leave").hidden = true;
    $("talk-state").textContent = "";
  }

  async function askToTalk(ev) {
    ev.preventDefault();
    $("talk-phone-error").hidden = true;
    if (!saved("talk_key")) save("talk_key", Date.now().toString(36) + Math.random().toString(36).slice(2));
    const r = await api("POST", "/v1/help-now", { phone: $("talk-phone").value },
      { "Idempotency-Key": saved("talk_key") });
    if (!r) return;
    const code = r.body && r.body.error;
    if (r.status === 202) {
      save("talk", r.body.request_id);
      save("talk_key", null);
      return talkStep(true);
    }
    if (code === "invalid_input" && r.body.field === "phone") {
      $("talk-phone-error").textContent = t("phone_bad");
      $("talk-phone-error").hidden = false;
      return $("talk-phone").focus();
    }
    save("talk_key", null);
    if (code === "nobody_on_duty") {
      $("talk-form").hidden = true;
      $("talk-intro").hidden = true;
      $("talk-state").textContent = (r.body.earliest_start ? t("talk_nobody_at", when(r.body.earliest_start)) : t("talk_nobody"));
      return;
    }
    if (code === "help_now_active") return showError(t("talk_active"));
    failed(r);
  }

  async function talkStep(focus) {
    clearTimeout(talkPoll);
    const id = saved("talk");
    const r = await api("GET", "/v1/help-now/" + id);
    if (!r) { talkPoll = setTimeout(talkStep, 3000); return; }
    if (!r.ok) { save("talk", null); return offerTalk(); }
    const h = r.body;
    $("talk").hidden = false;
    $("talk-form").hidden = true;
    $("talk-intro").hidden = true;
    const text = {
      queued: () => t("talk_queued", h.position, waitWords(h.estimated_wait_seconds || 0)),
      ringing_expert: () => t("talk_ringing"), calling_seeker: () => t("talk_calling"),
      connected: () => t("talk_connected"), completed: () => t("talk_completed"),
      cancelled: () => t("talk_cancelled"), timed_out: () => t("talk_timed_out"),
    }[h.status];
    $("talk-state").textContent = text ? text() : "";
    const waiting = h.status === "queued" || h.status === "ringing_expert";
    $("talk-leave").hidden = !waiting;
    if (focus) $("talk-h").focus();
    if (["completed", "cancelled", "timed_out"].includes(h.status)) { save("talk", null); return; }
    talkPoll = setTimeout(talkStep, 2000);
  }

  async function leaveTalk() {
    clearTimeout(talkPoll);
    const id = saved("talk");
    if (id) await api("DELETE", "/v1/help-now/" + id);
    save("talk", null);
    $("talk-leave").hidden = true;
    $("talk-state").textContent = t("talk_cancelled");
  }

  // ---- start ---------------------------------------------------------------
  async function start() {
    // The language follows the seeker to the cashier's page and back.
    document.cookie = "anxin_lang=" + lang + "; path=/; max-age=31536000; samesite=strict";
    const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (m) {
      store.setItem("anxin_token", decodeURIComponent(m[1]));
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    if (!store.getItem("anxin_token")) {
      $("no-token").hidden = false;
      return;
    }
    $("zone").textContent = t("zone", zoneName());
    if (saved("group")) $("group").value = saved("group");
    $("filters").addEventListener("submit", search);
    $("release").addEventListener("click", release);
    $("details").addEventListener("submit", confirm);
    $("cancel").addEventListener("click", cancel);
    $("new-search").addEventListener("click", () => { save("booking", null); search(null, true); });
    $("talk-form").addEventListener("submit", askToTalk);
    $("talk-leave").addEventListener("click", leaveTalk);
    await Promise.all([loadVocabulary(), loadRegions()]);
    history();
    offerTalk();
    if (saved("hold")) holdStep();
    else if (saved("booking")) bookingStep();
    else if (saved("waitlist")) { await search(); waitStep(); }
    else search();
  }

  start();
})();
