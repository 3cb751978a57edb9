// R-10: tick the 15-minute countdowns of the operators' intake queue (no inline script: CSP).
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function text(seconds) {
    var s = Math.abs(seconds);
    return Math.floor(s / 60) + ":" + pad(s % 60);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".tgd-countdown[data-deadline]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(deadline)) { return; }
      var left = Math.round((deadline - now) / 1000);
      var template = left >= 0 ? el.getAttribute("data-left") : el.getAttribute("data-late");
      el.textContent = template.replace("{t}", text(left));
      el.classList.toggle("fr-badge--error", left < 0);
      el.classList.toggle("fr-badge--warning", left >= 0);
      el.setAttribute("data-seconds-left", String(left));
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();
