// The POS page: scan a coupon's QR code with the device camera, then check it at once.
// BarcodeDetector where the browser has one; elsewhere (Chromium on Linux, Firefox) the vendored jsQR.
(function () {
  "use strict";
  var stream = null;
  var running = false;
  var detector = null;

  function el(id) { return document.getElementById(id); }

  function status(text) { el("scan-status").textContent = text; }

  function stop() {
    running = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
    el("scanner").classList.add("hidden");
    el("scan-start").disabled = false;
  }

  function found(text) {
    stop();
    el("pos-code").value = text.trim();
    el("pos-check").requestSubmit();
  }

  function frameWithJsQR(video, canvas, context) {
    var width = video.videoWidth;
    var height = video.videoHeight;
    if (!width || !height) { return null; }
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    var image = context.getImageData(0, 0, width, height);
    var result = window.jsQR(image.data, width, height, {inversionAttempts: "dontInvert"});
    return result ? result.data : null;
  }

  function loop(video) {
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", {willReadFrequently: true});
    function next() {
      if (!running) { return; }
      if (detector) {
        detector.detect(video).then(function (codes) {
          if (codes.length && running) { found(codes[0].rawValue); } else { window.setTimeout(next, 120); }
        }, function () { detector = null; window.setTimeout(next, 120); });
        return;
      }
      var text = frameWithJsQR(video, canvas, context);
      if (text) { found(text); } else { window.setTimeout(next, 120); }
    }
    next();
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status("This browser cannot use a camera here: type the code instead.");
      el("scanner").classList.remove("hidden");
      return;
    }
    el("scan-start").disabled = true;
    el("scanner").classList.remove("hidden");
    status("Starting the camera…");
    var chooseDetector = ("BarcodeDetector" in window)
      ? window.BarcodeDetector.getSupportedFormats().then(function (formats) {
          detector = formats.indexOf("qr_code") !== -1 ? new window.BarcodeDetector({formats: ["qr_code"]}) : null;
        }, function () { detector = null; })
      : Promise.resolve();
    chooseDetector.then(function () {
      return navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false});
    }).then(function (media) {
      stream = media;
      var video = el("scan-video");
      video.srcObject = media;
      return video.play().then(function () {
        running = true;
        status("Point the camera at the coupon's QR code.");
        loop(video);
      });
    }).catch(function (error) {
      stop();
      el("scanner").classList.remove("hidden");
      status("The camera could not be started (" + error.name + "): type the code instead.");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var startButton = el("scan-start");
    if (!startButton) { return; }
    startButton.addEventListener("click", start);
    el("scan-stop").addEventListener("click", stop);
    // after a redemption, the next customer: focus the code field again
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target && event.detail.target.id === "pos-result") {
        el("pos-result").scrollIntoView({block: "nearest"});
      }
    });
  });
})();
