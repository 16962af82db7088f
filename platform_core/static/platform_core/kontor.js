// Behaviour the templates ask for with data attributes, so no page needs an inline script or an on*= handler
// (the Content-Security-Policy allows scripts from our own static files only).
//   data-autosubmit       on a select: submit its form when the choice changes (filters; <noscript> has a button)
//   data-select-on-focus  on an input: select its text when focused (a secret shown once, to copy)
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    const field = event.target;
    if (!(field instanceof HTMLElement) || !field.matches("[data-autosubmit]")) return;
    const form = field.closest("form");
    if (form) form.requestSubmit();
  });

  document.addEventListener("focusin", function (event) {
    const field = event.target;
    if (field instanceof HTMLInputElement && field.matches("[data-select-on-focus]")) field.select();
  });
})();
