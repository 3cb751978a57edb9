/* TGD console, keyboard: one key per action, shown on each button (<kbd>) and in the help
 * overlay (?). Keys act only outside text fields and dialogs. Screen readers in browse mode
 * take single letters for themselves: the "Raccourcis à une touche" button turns them off
 * (remembered in this browser, WCAG 2.1.4), and every action stays a button of the toolbar.
 */
(function () {
  "use strict";
  var C = window.TGDConsole;
  if (!C) { return; }
  var help = document.getElementById("aide-raccourcis");
  var toggle = document.getElementById("btn-raccourcis");
  var enabled = true;
  try { enabled = window.localStorage.getItem("tgd.shortcuts") !== "0"; } catch (e) { /* private mode */ }

  function show() {
    toggle.setAttribute("aria-pressed", enabled ? "true" : "false");
    toggle.textContent = enabled ? C.T.shortcutsOn : C.T.shortcutsOff;
    document.getElementById("console").dataset.shortcuts = enabled ? "on" : "off";
  }
  toggle.addEventListener("click", function () {
    enabled = !enabled;
    try { window.localStorage.setItem("tgd.shortcuts", enabled ? "1" : "0"); } catch (e) { /* private mode */ }
    show();
  });
  show();

  function openHelp() { if (!help.open) { help.showModal(); document.getElementById("btn-fermer-aide").focus(); } }
  document.getElementById("btn-aide").addEventListener("click", openHelp);
  document.getElementById("btn-fermer-aide").addEventListener("click", function () { help.close(); });

  var KEYS = {
    p: function () { C.actions.claim(); },
    f: function () { C.actions.force(); },
    u: function () { C.actions.chooseUnit(); },
    r: function () { C.actions.callback(); },
    g: function () { C.actions.position(); },
    a: function () { C.actions.redial(); },
    q: function () { C.actions.leave(); },
    c: function () { C.actions.close(); },
    n: function () { C.actions.note(); },
    j: function () { C.actions.next(1); },
    k: function () { C.actions.next(-1); },
    v: function () { C.fire("lock-now"); },
    "?": openHelp
  };

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (!enabled || event.ctrlKey || event.metaKey || event.altKey || event.repeat) { return; }
    if (typing(event.target) || document.querySelector("dialog[open]") || C.state.locked) { return; }
    var handler = KEYS[event.key.length === 1 ? event.key.toLowerCase() : ""] || KEYS[event.key];
    if (!handler) { return; }
    event.preventDefault();
    handler();
  });
  /* The unit list: Enter dials the chosen unit at once. */
  document.getElementById("autre-unite").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); C.actions.otherUnit(); }
  });
})();
