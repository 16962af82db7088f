// The lists' bulk actions: "Select all on this page", and the action bar shown only while records are
// selected (with how many). The lists work without it: the bar is then always there.
(() => {
  "use strict";

  function syncBar(form) {
    const bar = form.querySelector("[data-bulk-bar]");
    if (!bar) return;
    const count = form.querySelectorAll('input[name="ids"]:checked').length;
    bar.hidden = count === 0;
    const counter = bar.querySelector("[data-bulk-count]");
    if (counter) counter.textContent = `${counter.dataset.label || ""} ${count}`;
  }

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    const form = box.closest("[data-bulk-form]");
    if (!form) return;
    if (box.matches("[data-select-all]")) {
      form.querySelectorAll('input[name="ids"]').forEach((input) => { input.checked = box.checked; });
    }
    syncBar(form);
  });

  function init() {
    document.querySelectorAll("[data-bulk-form]").forEach(syncBar);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  // Back from another page, the browser may restore checked boxes.
  window.addEventListener("pageshow", init);
})();
