// The customer's loyalty pages: forms that submit once (exchange, join, leave) and the prize wheel.
// A file, not inline script: the pages' Content-Security-Policy runs no inline code.
//
// The wheel does not choose anything: the server draws the prize when the spin is posted, and this
// script turns the wheel so that the pointer (at the top) lands on the slice of the prize the answer
// names, then says the result in the aria-live region. With prefers-reduced-motion the wheel jumps
// to the prize at once. Without JavaScript the form posts and the page comes back with the result.
(function () {
  "use strict";
  var TURNS = 5;
  var DURATION = 4200;
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)");

  // Forms with data-once: one submit (a double tap does not exchange twice); data-confirm asks first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    if (form.hasAttribute("data-once")) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      window.setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
  }, true);

  function angleOf(disc) {
    var given = disc.getAttribute("transform");
    var match = given && /rotate\(\s*(-?[\d.]+)/.exec(given);
    return match ? parseFloat(match[1]) : 0;
  }

  function setAngle(disc, angle) {
    disc.removeAttribute("transform");
    disc.style.transform = "rotate(" + angle + "deg)";  // CSSOM: allowed by the CSP
    disc.dataset.angle = String(angle);
  }

  // The angle that brings the middle of the prize's slice (give or take a little) under the pointer.
  function targetAngle(current, slice) {
    var start = parseFloat(slice.getAttribute("data-start"));
    var end = parseFloat(slice.getAttribute("data-end"));
    var wobble = (end - start) * 0.3 * (Math.random() * 2 - 1);
    var rest = (360 - (start + end) / 2 + wobble) % 360;
    var base = current - (current % 360) + TURNS * 360;
    return base + (rest < 0 ? rest + 360 : rest);
  }

  function say(region, data) {
    region.textContent = "";
    var p = document.createElement("p");
    if (!data.ok) {
      p.className = "refused";
      p.textContent = data.refusal || "You cannot spin now.";
      region.appendChild(p);
      return;
    }
    p.className = "spin-won";
    p.setAttribute("data-spin-id", data.spin_id);
    p.setAttribute("data-position", String(data.position));
    var strong = document.createElement("strong");
    strong.textContent = data.words;
    p.appendChild(strong);
    p.appendChild(document.createTextNode(" " + data.paid));
    if (data.url) {
      p.appendChild(document.createTextNode(" "));
      var link = document.createElement("a");
      link.href = data.url;
      link.textContent = "Open the coupon";
      p.appendChild(link);
    }
    region.appendChild(p);
    var balance = document.getElementById("points-available");
    if (balance && typeof data.available === "number") { balance.textContent = String(data.available); }
  }

  function turn(disc, slice, done) {
    var from = disc.dataset.angle ? parseFloat(disc.dataset.angle) : angleOf(disc);
    var to = targetAngle(from, slice);
    if ((reduced && reduced.matches) || typeof disc.animate !== "function") {
      setAngle(disc, to);
      done();
      return;
    }
    setAngle(disc, from);
    var animation = disc.animate(
      [{transform: "rotate(" + from + "deg)"}, {transform: "rotate(" + to + "deg)"}],
      {duration: DURATION, easing: "cubic-bezier(0.15, 0.6, 0.12, 1)", fill: "forwards"}
    );
    animation.onfinish = function () { setAngle(disc, to); animation.cancel(); done(); };
  }

  function setupWheel(form) {
    var card = form.closest(".wheel-card");
    var disc = card.querySelector(".wheel-disc");
    var region = card.querySelector(".spin-result");
    var button = form.querySelector("button");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) { return; }
      button.disabled = true;
      region.textContent = "";  // the last result goes: the new one is said when the wheel stops
      card.classList.add("spinning");
      var token = form.querySelector("input[name=csrf_token]");
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: {"Accept": "application/json", "X-CSRF-Token": token ? token.value : ""},
        credentials: "same-origin"
      }).then(function (response) {
        return response.json();
      }).then(function (data) {
        var slice = data.ok && disc.querySelector('[data-position="' + data.position + '"]');
        var finish = function () {
          say(region, data);
          card.classList.remove("spinning");
          button.disabled = false;
        };
        if (slice) { turn(disc, slice, finish); } else { finish(); }
      }).catch(function () {
        say(region, {ok: false, refusal: "Something went wrong. Please try again."});
        card.classList.remove("spinning");
        button.disabled = false;
      });
    });
  }

  function init() {
    document.querySelectorAll("form[data-spin]").forEach(setupWheel);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
