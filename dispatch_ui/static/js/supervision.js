/* Supervisors' board: refresh the figures every 10 seconds without reloading the page,
 * and let the user pause it (WCAG 2.2.1: timing adjustable). */
(function () {
  "use strict";
  var board = document.getElementById("supervision");
  var button = document.getElementById("pause-supervision");
  if (!board || !button) { return; }
  var paused = false;
  button.addEventListener("click", function () {
    paused = !paused;
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.textContent = paused ? button.dataset.resume : button.dataset.pause;
  });
  function editing() {
    /* Never replace a form the supervisor is filling in (an exemption, CCP VIII.5). */
    var active = document.activeElement;
    if (active && board.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) { return true; }
    return Array.prototype.some.call(board.querySelectorAll("form input:not([type=hidden]), form select"), function (field) {
      return field.value !== "";
    });
  }
  window.setInterval(function () {
    if (paused || editing()) { return; }
    fetch(window.location.href, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok || response.redirected) { return null; }
      return response.text();
    }).then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("supervision");
      if (fresh) { board.replaceChildren.apply(board, Array.prototype.slice.call(fresh.childNodes)); }
    }).catch(function () { /* the next round will try again */ });
  }, 10000);
})();
