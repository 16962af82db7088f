// Fills the hidden time zone fields (data-time-zone) with the browser's IANA time zone, e.g. "Europe/Moscow".
// Without JavaScript the server falls back to the default of the chosen language.
document.addEventListener("DOMContentLoaded", function () {
  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    zone = "";
  }
  document.querySelectorAll("input[data-time-zone]").forEach(function (input) {
    if (!input.value) input.value = zone;
  });
});
