// The coupon page: slide to redeem (pointer and keyboard) and the confirmation's countdown.
// A file, not inline script: the pages' Content-Security-Policy runs no inline code.
(function () {
  "use strict";
  var DONE = 100;

  function attemptId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function setupSlider(form) {
    var thumb = form.querySelector(".slide-thumb");
    var track = form.querySelector(".slide-track");
    if (!thumb || !track || form.dataset.ready) { return; }
    form.dataset.ready = "1";
    var value = 0;
    var sent = false;

    function room() { return Math.max(1, track.clientWidth - thumb.offsetWidth); }
    function show(v) {
      value = Math.max(0, Math.min(DONE, Math.round(v)));
      thumb.style.transform = "translateX(" + (room() * value / DONE) + "px)";  // CSSOM: allowed by the CSP
      thumb.setAttribute("aria-valuenow", String(value));
      thumb.setAttribute("aria-valuetext", value >= DONE ? "Redeeming" :
        value + " percent. Slide to the end, or press End, to redeem.");
    }
    function finish() {
      if (sent) { return; }
      sent = true;
      show(DONE);
      form.classList.add("slide-done");
      form.querySelector(".slide-attempt").value = attemptId();  // one id per slide: a retry is the same attempt
      window.htmx.trigger(form, "slid");
    }

    thumb.addEventListener("keydown", function (event) {
      if (sent) { return; }
      var step = {ArrowRight: 10, ArrowUp: 10, PageUp: 25, ArrowLeft: -10, ArrowDown: -10, PageDown: -25}[event.key];
      if (event.key === "End") { event.preventDefault(); finish(); return; }
      if (event.key === "Home") { event.preventDefault(); show(0); return; }
      if (step === undefined) { return; }
      event.preventDefault();
      show(value + step);
      if (value >= DONE) { finish(); }
    });

    var startX = null;
    var startValue = 0;
    thumb.addEventListener("pointerdown", function (event) {
      if (sent) { return; }
      startX = event.clientX;
      startValue = value;
      thumb.setPointerCapture(event.pointerId);
      form.classList.add("slide-dragging");
    });
    thumb.addEventListener("pointermove", function (event) {
      if (startX === null) { return; }
      show(startValue + (event.clientX - startX) * DONE / room());
    });
    function release() {
      if (startX === null) { return; }
      startX = null;
      form.classList.remove("slide-dragging");
      if (value >= 90) { finish(); } else { show(0); }
    }
    thumb.addEventListener("pointerup", release);
    thumb.addEventListener("pointercancel", release);
  }

  function setupCountdown(box) {
    if (box.dataset.ready) { return; }
    box.dataset.ready = "1";
    var left = parseInt(box.getAttribute("data-countdown"), 10) || 0;
    var number = box.querySelector(".countdown-number");
    var bar = box.querySelector(".countdown-bar");
    var started = Date.now();
    var from = left;
    function tick() {
      left = Math.max(0, from - Math.floor((Date.now() - started) / 1000));
      number.textContent = String(left);
      bar.value = left;
      bar.textContent = left + " s";
      if (left === 0) {
        box.classList.add("countdown-finished");
        box.querySelector(".countdown-over").classList.remove("hidden");
        return;
      }
      window.setTimeout(tick, 250);
    }
    tick();
  }

  function init(root) {
    root.querySelectorAll("form.slide").forEach(setupSlider);
    root.querySelectorAll(".countdown[data-countdown]").forEach(setupCountdown);
    if (root.matches && root.matches(".countdown[data-countdown]")) { setupCountdown(root); }
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
