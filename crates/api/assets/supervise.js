// The supervisor's page: records a debrief done through the public API with
// the session cookie (writes carry X-Anxin-Session), then shows the page
// again.
"use strict";
(() => {
  const { t } = anxinWords;
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
        show(t("empty"));
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
        show(r.status === 404 || r.status === 409 ? t("gone") : t("other"));
      } catch (_) {
        show(t("offline"));
      }
      button.disabled = false;
    });
  }
})();
