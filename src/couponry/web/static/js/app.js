// Couponry's own script for the web pages: small progressive enhancements only (every page works
// without it). Loaded as a file because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  // Forms and buttons with data-confirm="question" ask before they submit.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
  // <select data-toggles="prefix"> shows the elements with data-when-PREFIX="value" matching its value.
  function sync(select) {
    var name = select.getAttribute("data-toggles");
    document.querySelectorAll("[data-when-" + name + "]").forEach(function (el) {
      var wanted = el.getAttribute("data-when-" + name).split(" ");
      var on = wanted.indexOf(select.value) !== -1;
      el.classList.toggle("hidden", !on);
      el.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !on; });
    });
  }
  function init(root) {
    root.querySelectorAll("select[data-toggles]").forEach(function (select) {
      sync(select);
      select.addEventListener("change", function () { sync(select); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
