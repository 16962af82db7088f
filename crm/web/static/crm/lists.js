// "Select all on this page" for the lists' bulk actions; the lists work without it.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.matches("[data-select-all]")) return;
  const form = box.closest("form");
  if (!form) return;
  form.querySelectorAll('input[name="ids"]').forEach((input) => { input.checked = box.checked; });
});
