// Pickers that search as you type (crm/web/records/pickers.py).
//
// A <select data-picker="URL"> stays in the form: it is what is submitted, and without JavaScript it is the
// picker (with the first records). This script hides it behind an ARIA combobox: typing asks URL?q=... for the
// matching options (an htmx partial of <li role="option" data-value>), the arrow keys move through them, Enter
// or a click chooses, Escape closes. Options of the select whose value is not a record id ("Anyone", "Me",
// "Nobody") are offered too, matched here. A multiple select shows its choices as removable chips.
(() => {
  "use strict";
  const DELAY_MS = 200;
  let counter = 0;

  const isRecordId = (value) => /^\d+$/.test(value);
  const norm = (text) => (text || "").toLocaleLowerCase().trim();

  function enhance(select) {
    if (select.dataset.pickerReady) return;
    select.dataset.pickerReady = "1";
    const n = ++counter;
    const multiple = select.multiple;
    const url = select.dataset.picker;
    const wrap = document.createElement("div");
    wrap.className = "picker";
    const input = document.createElement("input");
    input.type = "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.className = "picker-input";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    const list = document.createElement("ul");
    list.id = `picker-${n}-options`;
    list.className = "picker-options";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.setAttribute("aria-controls", list.id);
    // The select's label (for=id) now names the combobox.
    if (select.id) {
      input.id = select.id;
      select.id = `${select.id}-select`;
    }
    for (const name of ["aria-label", "aria-describedby", "aria-invalid"]) {
      if (select.hasAttribute(name)) input.setAttribute(name, select.getAttribute(name));
    }
    if (select.dataset.testid) input.dataset.testid = select.dataset.testid;
    const chips = multiple ? document.createElement("ul") : null;
    if (chips) {
      chips.className = "picker-chips";
      chips.setAttribute("aria-label", select.getAttribute("aria-label") || "");
    }
    select.hidden = true;
    select.tabIndex = -1;
    select.removeAttribute("data-testid");
    select.parentNode.insertBefore(wrap, select);
    if (chips) wrap.append(chips);
    wrap.append(input, list, select);
    const help = wrap.parentNode.querySelector(".helptext");
    if (multiple && help) help.hidden = true;

    let active = -1;
    let timer = null;
    let sequence = 0;

    const selectedOption = () => (multiple ? null : select.options[select.selectedIndex] || null);
    const shownLabel = () => {
      const option = selectedOption();
      return option && option.value !== "" ? option.text : "";
    };
    const options = () => Array.from(list.querySelectorAll('[role="option"]'));

    function renderChips() {
      if (!chips) return;
      chips.replaceChildren();
      for (const option of Array.from(select.selectedOptions)) {
        const chip = document.createElement("li");
        chip.className = "picker-chip";
        const text = document.createElement("span");
        text.textContent = option.text;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "picker-remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `${select.dataset.pickerRemove || "Remove"}: ${option.text}`);
        remove.addEventListener("click", () => {
          option.selected = false;
          renderChips();
          select.dispatchEvent(new Event("change", { bubbles: true }));
          input.focus();
        });
        chip.append(text, remove);
        chips.append(chip);
      }
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      const all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach((li, i) => li.setAttribute("aria-selected", i === active ? "true" : "false"));
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    }

    function choose(li) {
      const value = li.dataset.value;
      const label = li.textContent.trim();
      let option = Array.from(select.options).find((o) => o.value === value);
      if (!option) {
        option = new Option(label, value);
        select.add(option);
      }
      if (multiple) {
        option.selected = true;
        input.value = "";
        renderChips();
      } else {
        select.value = value;
        input.value = value === "" ? "" : option.text;
      }
      close();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function show(html, query) {
      const fixed = Array.from(select.options).filter(
        (o) => !isRecordId(o.value) && o.text.trim() !== "—" && norm(o.text).includes(norm(query)),
      );
      list.replaceChildren();
      for (const option of fixed) {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.dataset.value = option.value;
        li.textContent = option.text;
        list.append(li);
      }
      const parsed = document.createElement("template");
      parsed.innerHTML = html;
      const found = Array.from(parsed.content.children);
      // "Nothing found" is said only when nothing at all matches.
      for (const li of found) if (!(fixed.length && li.dataset.testid === "picker-nothing")) list.append(li);
      const chosen = new Set(Array.from(select.selectedOptions).map((o) => o.value));
      options().forEach((li, i) => {
        li.id = `${list.id}-${i}`;
        li.setAttribute("aria-selected", "false");
        if (chosen.has(li.dataset.value) && li.dataset.value !== "") li.classList.add("picker-chosen");
      });
      active = -1;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function search(query) {
      const mine = ++sequence;
      const address = `${url}?q=${encodeURIComponent(query)}`;
      fetch(address, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : ""))
        .then((html) => {
          if (mine === sequence && document.activeElement === input) show(html, query);
        })
        .catch(() => {});
    }

    function queryNow() {
      // The label of the chosen record is not a search: show everything from the start.
      return !multiple && input.value === shownLabel() ? "" : input.value;
    }

    input.value = shownLabel();
    renderChips();

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => search(input.value), DELAY_MS);
    });
    input.addEventListener("keydown", (event) => {
      const open = !list.hidden;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!open) search(queryNow());
        else highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter") {
        if (!open) return;
        event.preventDefault();
        const all = options();
        if (active >= 0 && all[active]) choose(all[active]);
        else if (all.length === 1) choose(all[0]);
      } else if (event.key === "Escape") {
        if (!open) return;
        event.preventDefault();
        close();
        if (!multiple) input.value = shownLabel();
      } else if (event.key === "Backspace" && multiple && input.value === "" && select.selectedOptions.length) {
        const last = select.selectedOptions[select.selectedOptions.length - 1];
        last.selected = false;
        renderChips();
      }
    });
    input.addEventListener("click", () => {
      if (list.hidden) search(queryNow());
    });
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const li = event.target.closest('[role="option"]');
      if (li) choose(li);
    });
    input.addEventListener("blur", () => {
      clearTimeout(timer);
      sequence++;
      close();
      if (multiple) {
        input.value = "";
        return;
      }
      if (input.value.trim() === "" && select.value !== "") {
        // Emptied: no record. A select without an empty option ("Anyone") keeps its first one.
        const empty = Array.from(select.options).find((o) => o.value === "");
        select.value = empty ? "" : select.options[0]?.value ?? "";
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      // What was typed but not chosen does not count.
      input.value = shownLabel();
    });
  }

  function enhanceWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("select[data-picker]")) enhance(root);
    root.querySelectorAll("select[data-picker]").forEach(enhance);
  }

  // data-autosubmit (the board's and calendar's filters) is handled once, by platform_core/kontor.js.

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => enhanceWithin(document));
  } else {
    enhanceWithin(document);
  }
  document.addEventListener("htmx:load", (event) => enhanceWithin(event.detail && event.detail.elt));
})();
