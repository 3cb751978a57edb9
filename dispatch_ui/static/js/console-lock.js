/* TGD console, screen lock (E-08): after the configured idle time (no key, no click, no
 * pointer move) the console locks: the server refuses personal data until the password is
 * given again; the socket stays open, the board goes on and alerts keep ringing, shown on
 * the lock screen by their number only (no name).
 */
(function () {
  "use strict";
  var C = window.TGDConsole;
  if (!C) { return; }
  var overlay = document.getElementById("verrou");
  var form = document.getElementById("form-verrou");
  var field = document.getElementById("mot-de-passe-verrou");
  var error = document.getElementById("erreur-verrou");
  var waitingText = document.getElementById("verrou-attente");
  var cockpit = [document.getElementById("cockpit"), document.getElementById("actions"),
    document.querySelector(".tgd-seat"), document.querySelector("footer"),
    document.querySelector("#navigation")];
  var idleAfter = (C.config.lockAfter || 0) * 1000;
  var lastActivity = Date.now();

  function display(locked) {
    C.state.locked = locked;
    document.getElementById("console").dataset.locked = locked ? "true" : "false";
    overlay.classList.toggle("tgd-hidden", !locked);
    cockpit.forEach(function (node) { if (node) { node.inert = locked; } });
    if (locked) {
      document.querySelectorAll("dialog[open]").forEach(function (d) { d.close(); });
      field.value = "";
      field.focus();
    }
    C.renderActions();
    updateWaiting(C.waiting().length);
  }
  function updateWaiting(count) {
    if (!C.state.locked) { return; }
    waitingText.textContent = C.T.lockedWaiting + " " + count;
    overlay.classList.toggle("tgd-lock--ringing", count > 0);
  }
  function lock() {
    if (C.state.locked) { return; }
    display(true);
    C.api("POST", "/api/console/lock", {}).catch(function () { /* locked on screen anyway */ });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.classList.add("tgd-hidden");
    C.api("POST", "/api/console/unlock", { password: field.value }).then(function () {
      lastActivity = Date.now();
      display(false);
      C.refresh();
    }).catch(function (err) {
      error.textContent = err.message;
      error.classList.remove("tgd-hidden");
      field.value = "";
      field.focus();
      if (err.status === 302 || err.status === 401) { window.location.reload(); }
    });
  });

  ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"].forEach(function (type) {
    document.addEventListener(type, function () { if (!C.state.locked) { lastActivity = Date.now(); } }, { passive: true, capture: true });
  });
  if (idleAfter > 0) {
    window.setInterval(function () {
      if (!C.state.locked && Date.now() - lastActivity >= idleAfter) { lock(); }
    }, 1000);
  }
  document.getElementById("btn-verrouiller").addEventListener("click", lock);
  C.on("lock-now", lock);
  C.on("locked", function () { if (!C.state.locked) { display(true); } });
  C.on("waiting", updateWaiting);
  C.on("ready", function () { if (C.config.locked) { display(true); } });
})();
