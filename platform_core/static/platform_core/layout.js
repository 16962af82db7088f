// The page layout's behaviour: on a narrow screen the main navigation folds behind the "Menu" button.
// Without JavaScript the navigation simply stays open above the page.
(() => {
  "use strict";
  document.documentElement.classList.add("js");

  function setOpen(button, nav, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("open", open);
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-nav-toggle]") : null;
    if (!button) return;
    const nav = document.getElementById(button.getAttribute("aria-controls"));
    if (!nav) return;
    const open = button.getAttribute("aria-expanded") !== "true";
    setOpen(button, nav, open);
    if (open) {
      const first = nav.querySelector("a");
      if (first) first.focus();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const button = document.querySelector('[data-nav-toggle][aria-expanded="true"]');
    const nav = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!button || !nav || !nav.contains(document.activeElement)) return;
    setOpen(button, nav, false);
    button.focus();
  });
})();
