// The pipeline board: native HTML5 drag and drop, and the per-card "Move" form, both posting to the move
// endpoint. The server answers the changed column headers and the card; nothing moves until it has agreed.
(function () {
  "use strict";

  const board = document.querySelector("[data-board]");
  if (!board) return;
  const status = document.getElementById("board-status");
  const lostDialog = document.getElementById("lost-dialog");
  let dragged = null;

  function csrfToken() {
    const input = board.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function apply(html, oldCard) {
    const template = document.createElement("template");
    template.innerHTML = html;
    template.content.querySelectorAll("[data-column-head]").forEach(function (head) {
      const current = document.getElementById(head.id);
      if (current) current.replaceWith(head);
    });
    const card = template.content.querySelector(".deal-card");
    oldCard.remove();
    if (card) {
      const list = document.getElementById("stage-cards-" + card.dataset.stage);
      if (list) {
        list.prepend(card);
        if (window.htmx) window.htmx.process(card);
      }
    }
    const message = template.content.querySelector("[data-move-message]");
    say(message ? message.textContent : "", false);
  }

  async function move(card, stageId, lostReason) {
    const body = new FormData();
    body.set("deal", card.dataset.deal);
    body.set("stage", stageId);
    body.set("version", card.dataset.version);
    body.set("lost_reason", lostReason || "");
    body.set("owner", board.dataset.owner || "");
    card.classList.add("moving");
    try {
      const response = await fetch(board.dataset.moveUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "XMLHttpRequest" },
      });
      const text = await response.text();
      if (response.ok) apply(text, card);
      else say(text, true);
    } catch (e) {
      say(status.dataset.offline, true);
    } finally {
      card.classList.remove("moving");
    }
  }

  function askLostReason(card, stageId) {
    const form = lostDialog.querySelector("[data-lost-form]");
    const input = form.elements.lost_reason;
    input.value = "";
    lostDialog.onclose = function () {
      if (lostDialog.returnValue === "ok" && input.value.trim()) move(card, stageId, input.value.trim());
      lostDialog.returnValue = "";
    };
    lostDialog.showModal();
    input.focus();
  }

  function dropTo(card, zone) {
    const stageId = zone.dataset.dropStage;
    if (stageId === card.dataset.stage) return;
    if (zone.dataset.outcome === "lost") askLostReason(card, stageId);
    else move(card, stageId, "");
  }

  lostDialog.querySelector("[data-dialog-cancel]").addEventListener("click", function () {
    lostDialog.close("");
  });

  board.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".deal-card");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
    card.classList.add("dragging");
  });

  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    board.querySelectorAll(".drop-over").forEach(function (el) {
      el.classList.remove("drop-over");
    });
  });

  board.addEventListener("dragover", function (event) {
    const zone = dragged && event.target.closest("[data-drop-stage]");
    if (!zone) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    zone.classList.add("drop-over");
  });

  board.addEventListener("dragleave", function (event) {
    const zone = event.target.closest("[data-drop-stage]");
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("drop-over");
  });

  board.addEventListener("drop", function (event) {
    const zone = dragged && event.target.closest("[data-drop-stage]");
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("drop-over");
    dropTo(dragged, zone);
  });

  // The keyboard way: the card's "Move" form goes through the same request.
  board.addEventListener("submit", function (event) {
    const form = event.target.closest("[data-move-form]");
    if (!form) return;
    event.preventDefault();
    const card = form.closest(".deal-card");
    move(card, form.elements.stage.value, form.elements.lost_reason.value.trim());
  });
})();
