// The reference seeker app. The host app opens /app#token=<jwt>; the token is
// moved to sessionStorage at once (and out of the address bar), and every
// call goes through the public API with it. What the app remembers between
// pages (the cashier is another page) is in sessionStorage: this tab only.
"use strict";
(() => {
  const lang = document.documentElement.lang.startsWith("en") ? "en" : "zh";
  const T = {
    zh: {
      slots_none: "暂时没有可预约的专家。", next_at: (w) => `下一个可预约的时间：${w}。请到时再来，或换个筛选条件。`,
      nothing_open: "现在所有专家的时间都约满了。新的时间会陆续开放，请稍后再来看看；如果你现在就需要帮助，请拨打下方的热线。",
      zone: (z) => `时间按${z}显示。`, beijing: "北京时间", today: "今天", tomorrow: "明天", now_slot: "现在",
      wait_offer: "有合适的时间空出来时，为我保留", wait_h: "正在为你等候合适的时间",
      waiting: (n) => `你在等候名单的第 ${n} 位。一有合适的时间空出来，我们会为你保留 10 分钟，这个页面会自动带你去确认。`,
      wait_stop: "不再等候", wait_again: "这次保留已经过期了。你可以再次等候，或换个筛选条件看看。",
      min_sec: (m, s) => `${m} 分 ${String(s).padStart(2, "0")} 秒`,
      slot_label: (n, w) => `预约 ${n}，${w}`,
      none_match: (f) => `没有${f}的专家现在有空。`, and: "、",
      f_language: (l) => `说${l}`, f_topic: (t) => `擅长「${t}」`,
      widen_language: (n) => `不限语言（${n} 位有空）`, widen_topic: (n) => `不限话题（${n} 位有空）`,
      widen_all: (n) => `全部不限（${n} 位有空）`,
      call_now: "时间已到，我们马上为你拨打", booked_cancelled_h: "预约已取消",
      not_open: (r) => `${r || "你所在的地区"}的预约服务还没有开通：我们正按地区逐步开放，开通后这里就能预约。现在想找人聊，可以拨打下面的热线。`,
      local_hotlines: (r) => `${r || "你所在地区"}的热线：`, local: "本地",
      booked_h: "预约成功", we_call: "我们会在这个时间拨打",
      langs: "语言", topics: "擅长", colon: "：", held_by_other: "这个时间刚被别人约走了，请另选一个。",
      hold_limit: "你已经保留了一个时间，请先完成或放弃它。", expired: "保留已过期，请重新选择时间。",
      pay_expired: "支付已过期，请重新选择时间。", phone_bad: "请填写正确的手机号，例如 138 0000 0000。",
      pay_first: "请先完成支付。", offline: "网络不通，请稍后再试。",
      errors: {
        unauthorized: "这个页面的登录已失效。请回到你的应用，重新打开安心预约。",
        forbidden: "这一步你没有权限操作。请回到你的应用重新打开。",
        not_found: "没有找到这条记录，它可能已被取消或已过期。",
        slot_unavailable: "这个时间刚被别人约走了，请另选一个。",
        booking_not_active: "这次预约已经取消或已经结束了。",
        rate_limited: "操作有点太快了，请稍等几秒再试。",
        unavailable: "服务暂时有点忙，请稍等片刻再试。",
        invalid_input: "填写的内容有一处不对，请检查后再试。",
        other: "出了点问题，不是你的错。请稍后再试；如果你现在就需要帮助，请拨打下方的热线。",
      },
      call: {
        scheduled: "已安排：到时我们会先接通专家，再打给你。", starting: "马上开始：我们正在接通专家，然后打给你。",
        dialing_expert: "正在接通专家…", dialing_seeker: "正在呼叫你，请接听…",
        bridged: "通话中", retry_waiting: "没有接通，稍后会再试一次。", cancelled: "已取消。",
      },
      outcome: {
        completed: "通话已完成。愿你安好。", expert_no_answer: "专家没有接听，很抱歉。预约费会退还。",
        expert_busy: "专家正忙，未能接通。预约费会退还。", seeker_no_answer: "我们打给你时没有接通。",
        seeker_busy: "我们打给你时你正忙。", failed: "通话没有接通（系统问题）。预约费会退还。", cancelled: "已取消。",
      },
      status: { confirmed: "已确认", cancelled: "已取消", completed: "已完成" },
      reason: (r) => r === "expert_unavailable"
        ? "专家无法赴约，这个时间也没有其他专家有空。预约费会全额退还。"
        : `取消原因：${r}`,
      reassigned: (n) => `原来的专家无法赴约，已为你换成 ${n}，时间不变。`, again: "再约这位专家", again_none: "这位专家暂时没有可预约的时间。",
      cancel_confirm: "确定取消这次预约吗？",
      help_now: "现在就需要帮助？", upcoming_h: "我接下来的通话",
      talk_h: "现在找人聊聊", talk_go: "请现在打给我", talk_leave: "不等了",
      talk_intro: (n, w) => `现在有 ${n} 位志愿者在值班。留下手机号，我们先接通一位志愿者，再打给你；志愿者看不到你的号码。${w}`,
      talk_wait: (s) => s < 60 ? "预计不到 1 分钟。" : `预计等候约 ${Math.ceil(s / 60)} 分钟。`,
      talk_queued: (n, w) => `你在等候的第 ${n} 位。${w}请留在这个页面，电话会打到你留下的号码。`,
      talk_ringing: "正在为你联系一位值班的志愿者，请稍候……",
      talk_calling: "志愿者已经接听，正在打给你，请接听电话（来电显示是平台号码）。",
      talk_connected: "你们正在通话。", talk_completed: "通话已结束。愿你安好；需要时随时可以再来。",
      talk_cancelled: "你已离开等候。需要时随时可以再来。",
      talk_timed_out: "很抱歉，现在没有志愿者能接听。你可以预约下面最早的时间，或拨打下方的热线，他们可以马上和你聊。",
      talk_nobody: (w) => `现在没有志愿者值班。${w ? `最早可以预约的时间是${w}。` : ""}也可以拨打下方的热线，他们可以马上和你聊。`,
      talk_active: "你已经在等候了，请留在这个页面。",
      refund_if_cancel: "现在取消，预约费会全额退还。",
      cancel_confirm_refund: "确定取消这次预约吗？预约费会全额退还。",
      cancelled_refund: "已取消。预约费会全额退还到你付款的账户，通常几分钟内到账。",
      cancelled_plain: "已取消。",
      cancel_this: "取消这次预约", yuan: (a) => `¥${a}`,
    },
    en: {
      brand: "Anxin", no_token_h: "Open this from your app", no_token: "This page books for you when it is opened from a partner app.",
      find_h: "Book a call with a volunteer", find_intro: "Choose a volunteer expert and a time. We call you then; the expert never sees your number.",
      group: "You are (optional)", group_none: "Rather not say", g_medical_worker: "a medical worker", g_patient: "a patient",
      g_bereaved_family: "a bereaved family member", g_general: "someone else", language: "Language", topic: "Topic", any: "Any",
      search: "Search",
      hold_h: "This time is held for you", hold_left: "Held for", fee: "Booking fee", fee_note: "A token fee that keeps bookings for people who mean to come. Cancel before the start, or if the call fails on the expert's side, and it is refunded in full.",
      simulated: "Development: a simulated payment, no money moves.", pay: "Pay",
      phone: "Your mobile number (only to call you; the expert never sees it)", note: "Anything the expert should know first (optional)",
      confirm: "Confirm booking", release: "I don't want this time", booked_h: "Booked", we_call: "We will call",
      cancel: "Cancel booking", new_search: "Book another", history_h: "My bookings", history_empty: "No bookings yet.",
      crisis_h: "If you need help right now",
      crisis_intro: "A psychological-aid line can talk with you right away; if a life is in danger, call 120 or 110 now.",
      slots_none: "No expert is open right now.", next_at: (w) => `Help is next available ${w}. Come back then, or change the filters.`,
      nothing_open: "Every expert's time is booked just now. New times open often, so please look again soon; if you need help now, call a line below.",
      zone: (z) => `Times are shown in ${z}.`, beijing: "Beijing time", today: "today", tomorrow: "tomorrow", now_slot: "now",
      min_sec: (m, s) => `${m} min ${String(s).padStart(2, "0")} s`,
      slot_label: (n, w) => `Book ${n}, ${w}`,
      none_match: (f) => `No expert ${f} is free just now.`, and: " and ",
      f_language: (l) => `speaking ${l}`, f_topic: (t) => `helping with ${t.toLowerCase()}`,
      widen_language: (n) => `Any language (${n} free)`, widen_topic: (n) => `Any topic (${n} free)`,
      widen_all: (n) => `No filters (${n} free)`,
      call_now: "It's time: we are calling you now at", booked_cancelled_h: "Booking cancelled",
      not_open: (r) => `Booking isn't open in ${r || "your region"} yet: we are opening region by region, and you can book here once it is. To talk to someone now, call a line below.`,
      local_hotlines: (r) => `Hotlines in ${r || "your region"}:`, local: "near you",
      langs: "Languages", topics: "Helps with", colon: ": ", held_by_other: "Someone just took that time; please choose another.",
      hold_limit: "You already hold a time; finish or release it first.", expired: "The hold expired; please choose a time again.",
      pay_expired: "The payment expired; please choose a time again.", phone_bad: "Enter a valid mobile number, e.g. 138 0000 0000 (or +852 …, +1 … from abroad).",
      pay_first: "Please pay first.", offline: "No connection; please try again shortly.",
      errors: {
        unauthorized: "This page's sign-in has expired. Please go back to your app and open Anxin again.",
        forbidden: "You can't do that from here. Please open this page again from your app.",
        not_found: "We couldn't find that; it may have been cancelled or have expired.",
        slot_unavailable: "Someone just took that time; please choose another.",
        booking_not_active: "This booking has already been cancelled or has ended.",
        rate_limited: "That was a little fast; please wait a few seconds and try again.",
        unavailable: "We're a little busy; please try again in a moment.",
        invalid_input: "Something in the form isn't quite right; please check it and try again.",
        other: "Something went wrong, and it isn't your fault. Please try again later; if you need help now, call a line below.",
      },
      call: {
        scheduled: "Scheduled: at the time we connect the expert, then call you.",
        starting: "Starting now: we are connecting the expert, then we call you.", dialing_expert: "Connecting the expert…",
        dialing_seeker: "Calling you now, please answer…", bridged: "Connected", retry_waiting: "No answer; we will try again shortly.",
        cancelled: "Cancelled.",
      },
      outcome: {
        completed: "The call is complete. Take care.", expert_no_answer: "The expert did not answer; we are sorry. The fee will be refunded.",
        expert_busy: "The expert was busy. The fee will be refunded.", seeker_no_answer: "We could not reach you.",
        seeker_busy: "Your line was busy when we called.", failed: "The call could not be placed. The fee will be refunded.", cancelled: "Cancelled.",
      },
      status: { confirmed: "confirmed", cancelled: "cancelled", completed: "completed" },
      reason: (r) => r === "expert_unavailable"
        ? "Your expert can't make it and nobody else is free at that time. The fee will be refunded in full."
        : `Why: ${r}`,
      reassigned: (n) => `Your first expert can't make it, so ${n} will talk with you instead, at the same time.`, again: "Book this expert again", again_none: "This expert has no open time just now.",
      cancel_confirm: "Cancel this booking?",
      help_now: "Need help right now?", upcoming_h: "My next call",
      talk_h: "Talk to someone now", talk_go: "Call me now", talk_leave: "Stop waiting",
      talk_intro: (n, w) => `${n === 1 ? "1 volunteer is" : `${n} volunteers are`} on duty now. Leave your number: we reach a volunteer first, then call you. The volunteer never sees your number. ${w}`,
      talk_wait: (s) => s < 60 ? "The wait should be under a minute." : `The wait should be about ${Math.ceil(s / 60)} minutes.`,
      talk_queued: (n, w) => `You are number ${n} in line. ${w} Please stay on this page; we will call the number you gave.`,
      talk_ringing: "We are reaching a volunteer on duty for you, one moment…",
      talk_calling: "A volunteer has answered and we are calling you now; please pick up (the call shows the platform's number).",
      talk_connected: "You are talking now.", talk_completed: "The call has ended. Take care; come back whenever you need.",
      talk_cancelled: "You left the line. Come back whenever you need.",
      talk_timed_out: "We are sorry: no volunteer could answer in time. You can book the earliest time below, or call a hotline below; they can talk with you right away.",
      talk_nobody: (w) => `No volunteer is on duty right now. ${w ? `The earliest time you can book is ${w}. ` : ""}You can also call a hotline below; they can talk with you right away.`,
      talk_active: "You are already waiting; please stay on this page.",
      refund_if_cancel: "Cancel now and the booking fee is refunded in full.",
      cancel_confirm_refund: "Cancel this booking? The booking fee will be refunded in full.",
      cancelled_refund: "Cancelled. The booking fee is being refunded in full to the account you paid from, usually within minutes.",
      cancelled_plain: "Cancelled.",
      cancel_this: "Cancel this booking", yuan: (a) => `¥${a}`,
      wait_offer: "Hold the next time that suits me", wait_h: "Waiting for a time that suits you",
      waiting: (n) => `You are number ${n} on the waitlist. When a time that suits you opens, we hold it for you for 10 minutes and this page takes you to confirm it.`,
      wait_stop: "Stop waiting", wait_again: "That held time has lapsed. You can wait again, or try other filters.",
    },
  };
  const t = (k) => T[lang][k] !== undefined ? T[lang][k] : T.zh[k];
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
  const slotWhen = (iso) => started(iso) ? t("now_slot") + (lang === "en" ? " (" + when(iso) + ")" : "（" + when(iso) + "）") : when(iso);
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

  function translate() {
    if (lang !== "en") return;
    for (const n of document.querySelectorAll("[data-t]")) {
      const v = T.en[n.getAttribute("data-t")];
      if (typeof v === "string") n.textContent = v;
    }
    const sw = $("lang-switch");
    sw.textContent = "中文";
    sw.href = "?lang=zh";
    sw.lang = "zh";
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
    const errors = t("errors");
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
    if (r.body.service_open === false) next.append(el("p", {}, t("not_open")(place)));
    else if (r.body.widen) emptyFilters(next, r.body.widen);
    else next.append(r.body.earliest_start ? t("next_at")(when(r.body.earliest_start)) : t("nothing_open"));
    // Where nobody is shown, the region's own hotlines, each one tap away.
    if (lines.length) {
      next.append(el("p", {}, t("local_hotlines")(place)));
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
    next.replaceChildren(el("h3", {}, t("wait_h")), el("p", { id: "waiting" }, t("waiting")(w.position)));
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
    if ($("language").value) said.push(t("f_language")(word("languages", $("language").value)));
    if ($("topic").value) said.push(t("f_topic")(word("topics", $("topic").value)));
    box.append(el("p", {}, t("none_match")(said.join(t("and")))));
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
    offer(widen.without_language, t("widen_language"), ["language"]);
    offer(widen.without_topic, t("widen_topic"), ["topic"]);
    if (widen.without_language !== undefined && widen.without_topic !== undefined)
      offer(widen.without_filters, t("widen_all"), ["language", "topic"]);
    if (row.childElementCount) box.append(row);
    else box.append(el("p", {}, t("nothing_open")));
  }

  // What codes are called (topics, languages), from GET /v1/vocabulary: the
  // one list the server keeps, so every topic experts can choose is here.
  const words = { topics: {}, languages: {} };
  const word = (kind, code) => words[kind][code] || code;
  const named = (kind, codes) => codes.map((c) => word(kind, c)).join(lang === "en" ? ", " : "、");

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
        const b = el("button", { type: "button", "data-slot": s.slot_id, "aria-label": t("slot_label")(e.display_name, slotWhen(s.starts_at)) }, slotWhen(s.starts_at));
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
      $("amount").textContent = t("yuan")((p.body.amount_minor / 100).toFixed(2));
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
      $("countdown").textContent = t("min_sec")(Math.floor(left / 60), left % 60);
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
    moved.textContent = moved.hidden ? "" : t("reassigned")(v.display_name);
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
      return [t("outcome").cancelled + (b.cancel_reason ? " " + t("reason")(b.cancel_reason) : ""), "bad"];
    if (b.call.state === "ended" && b.call.outcome)
      return [t("outcome")[b.call.outcome] || t("status")[b.status] || "", b.call.outcome === "completed" ? "ok" : "bad"];
    if (b.status === "completed") return [t("status").completed, "ok"];
    if (b.call.state === "scheduled" && started(b.starts_at)) return [t("call").starting, ""];
    return [t("call")[b.call.state] || "", ""];
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
    $("talk-intro").textContent = t("talk_intro")(r.body.on_duty, t("talk_wait")(r.body.estimated_wait_seconds || 0));
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
      $("talk-state").textContent = t("talk_nobody")(r.body.earliest_start ? when(r.body.earliest_start) : "");
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
      queued: () => t("talk_queued")(h.position, t("talk_wait")(h.estimated_wait_seconds || 0)),
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
    translate();
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
    $("zone").textContent = t("zone")(zoneName());
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
