// The supervisor's page: records a debrief done through the public API with
// the session cookie (writes carry X-Anxin-Session), then shows the page
// again.
"use strict";
(() => {
  const en = document.documentElement.lang.startsWith("en");
  const words = en
    ? { empty: "Please write a few words about the conversation.", other: "Something went wrong and nothing was recorded. Please try again shortly.", offline: "No connection; please try again shortly.", gone: "This debrief is no longer yours to record, or is already done." }
    : { empty: "请写几句关于这次复盘的记录。", other: "出了点问题，没有记下。请稍后再试。", offline: "网络不通，请稍后再试。", gone: "这条复盘已经完成，或不在你的督导范围内。" };
  const error = document.getElementById("error");
  function show(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }
  for (const form of document.querySelectorAll("form.debrief-done")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const note = form.elements.note.value.trim();
      if (!note) {
        show(words.empty);
        form.elements.note.focus();
        return;
      }
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const r = await fetch(`/v1/supervision/debriefs/${form.dataset.debrief}/done`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Anxin-Session": "1" },
          body: JSON.stringify({ note }),
        });
        if (r.ok) {
          location.reload();
          return;
        }
        show(r.status === 404 || r.status === 409 ? words.gone : words.other);
      } catch (_) {
        show(words.offline);
      }
      button.disabled = false;
    });
  }
})();
