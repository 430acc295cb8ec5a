// The page's words, from Anxin's one catalogue (crates/api/words.json): the
// server puts the sections a page uses, in the page's language, into
// <meta name="anxin-words">, and every page script reads them through
// `anxinWords`. It also remembers the language switch's choice.
"use strict";
window.anxinWords = (() => {
  const meta = document.querySelector('meta[name="anxin-words"]');
  const words = meta ? JSON.parse(meta.getAttribute("content")) : {};
  const has = (key) => Object.prototype.hasOwnProperty.call(words, key);
  // One text by its key, with {0}, {1}… filled from the arguments; a key the
  // catalogue lacks is shown as itself.
  const t = (key, ...args) =>
    (has(key) ? words[key] : String(key)).replace(/\{(\d+)\}/g, (m, i) => (i < args.length ? String(args[i]) : m));
  // The texts under `prefix.` (the errors, a call's states…), by their last part.
  const group = (prefix) => {
    const out = {};
    for (const key of Object.keys(words)) {
      if (key.startsWith(prefix + ".")) out[key.slice(prefix.length + 1)] = words[key];
    }
    return out;
  };
  const sw = document.getElementById("lang-switch");
  if (sw) {
    sw.addEventListener("click", () => {
      document.cookie = "anxin_lang=" + sw.getAttribute("data-lang") + "; path=/; max-age=31536000; samesite=strict";
    });
  }
  return { t, has, group };
})();
