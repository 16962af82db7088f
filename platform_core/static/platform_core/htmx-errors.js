// How htmx treats answers that are not a success, on every page.
//
// 422 (and 409) answers carry the form again with its errors next to the inputs: htmx swaps them in like a
// success (by default it swaps nothing on an error status, and the user saw nothing). Other failures
// (403, 404, 500, no connection) change nothing on the page: a short message says so next to what was sent;
// a 402 of a read-only workspace says why, in its own words.
(() => {
  "use strict";
  const SHOWN_IN_PLACE = new Set([409, 422]);

  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr && event.detail.xhr.status;
    if (SHOWN_IN_PLACE.has(status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function sayFailed(event) {
    const element = event.detail && event.detail.elt;
    const status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
    if (!element || SHOWN_IN_PLACE.has(status)) return;
    const anchor = element.closest("form") || element;
    const body = document.body;
    let text = status === 0 ? body.dataset.htmxOffline : body.dataset.htmxFailed;
    // A refusal that says why in plain text (a read-only workspace, 402) is shown as it is.
    const xhr = event.detail.xhr;
    const type = xhr && xhr.getResponseHeader ? xhr.getResponseHeader("Content-Type") || "" : "";
    if (status === 402 && type.startsWith("text/plain") && xhr.responseText) text = xhr.responseText;
    if (!text) return;
    let note = anchor.nextElementSibling;
    if (!note || !note.classList.contains("htmx-failed")) {
      note = document.createElement("p");
      note.className = "htmx-failed form-errors";
      note.setAttribute("role", "alert");
      note.dataset.testid = "htmx-failed";
      anchor.after(note);
    }
    note.textContent = text;
  }

  document.addEventListener("htmx:responseError", sayFailed);
  document.addEventListener("htmx:sendError", sayFailed);
  // A later success clears the message.
  document.addEventListener("htmx:afterRequest", (event) => {
    if (!event.detail || !event.detail.successful) return;
    const anchor = event.detail.elt && (event.detail.elt.closest("form") || event.detail.elt);
    const note = anchor && anchor.isConnected ? anchor.nextElementSibling : null;
    if (note && note.classList.contains("htmx-failed")) note.remove();
  });
})();
