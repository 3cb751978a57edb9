/* TGD operators' console, core: live board, the file on screen, the bridge, the action bar.
 *
 * Events come over Socket.IO with a gapless sequence number (E-02). The console first
 * reads the board (and the sequence it reflects), then connects and asks for what came
 * after it ("resume"): a reopened console never replays old alerts as new. The ring is
 * driven by the board itself: it repeats while an alert waits unclaimed, and stops when
 * none does (never cry wolf). Every text comes from the page (<template id="textes"> and
 * the label catalogue in data-config, French or English); data is always inserted as
 * text, never as HTML.
 *
 * Other modules hook in through window.TGDConsole: on("ready" | "board" | "detail" |
 * "waiting" | "event", fn), and use its api(), select(), act() and state. The map, the
 * keyboard shortcuts and the screen lock are such modules (console-*.js).
 */
(function () {
  "use strict";

  var root = document.getElementById("console");
  if (!root) { return; }
  var config = JSON.parse(root.dataset.config || "{}");
  var labels = config.labels || {};
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var T = {};
  document.getElementById("textes").content.querySelectorAll("[data-k]").forEach(function (node) {
    T[node.dataset.k] = node.textContent;
  });
  var baseTitle = document.title;

  var hooks = {};
  function on(name, fn) { (hooks[name] = hooks[name] || []).push(fn); }
  function fire(name, arg) {
    (hooks[name] || []).forEach(function (fn) {
      try { fn(arg); } catch (e) { if (window.console) { window.console.error(e); } }
    });
  }

  var state = {
    lastSeq: 0, loadedHead: null, alerts: [], selected: null, me: config.me, detail: null,
    serverOffset: 0, firstSeen: {}, locked: !!config.locked, busy: false
  };
  var els = {
    queue: document.getElementById("file-alertes"),
    empty: document.getElementById("file-vide"),
    count: document.getElementById("compteur"),
    detail: document.getElementById("fiche"),
    detailTitle: document.getElementById("titre-fiche"),
    bridge: document.getElementById("pont"),
    legs: document.getElementById("jambes"),
    noteBlock: document.getElementById("bloc-note"),
    force: document.getElementById("force"),
    status: document.getElementById("etat-connexion"),
    statusText: document.getElementById("etat-connexion-texte"),
    sound: document.getElementById("son-bloque"),
    announce: document.getElementById("annonce"),
    message: document.getElementById("message-action"),
    actionState: document.getElementById("etat-actions"),
    otherUnit: document.getElementById("autre-unite"),
    closeDialog: document.getElementById("dialogue-cloture"),
    closeError: document.getElementById("erreur-cloture")
  };
  var unitPlaceholder = els.otherUnit.options[0] ? els.otherUnit.options[0].textContent : "";
  var buttons = {
    claim: document.getElementById("btn-prendre"),
    force: document.getElementById("btn-forces"),
    otherUnit: document.getElementById("btn-autre-unite"),
    callback: document.getElementById("btn-rappel"),
    position: document.getElementById("btn-position"),
    redial: document.getElementById("btn-ma-ligne-rappel"),
    leave: document.getElementById("btn-quitter"),
    close: document.getElementById("btn-cloture")
  };

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  function api(method, url, body) {
    var options = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrf;
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.redirected) { window.location.reload(); throw new Error(T.error); }
      return response.json().then(function (data) {
        if (response.status === 423) { fire("locked", true); }
        if (!response.ok) {
          var err = new Error(data.error || T.error);
          err.status = response.status;
          throw err;
        }
        return data;
      });
    });
  }

  /* --- sound, title, notifications, announcements --------------------------------------- */
  var audio = null, ringTimer = null, rings = 0, hush = null, hushed = false;
  function ring() {
    rings += 1;
    root.dataset.rings = String(rings);
    try {
      if (!audio) {
        audio = new (window.AudioContext || window.webkitAudioContext)();
        audio.onstatechange = function () { root.dataset.sound = audio.state; };
      }
      if (audio.state === "suspended") {
        audio.resume();
        /* Suspended by the browser (no gesture yet), not by us between rings: ask for one. */
        if (!hushed) { els.sound.classList.remove("tgd-hidden"); }
      }
      hushed = false;
      [0, 0.35, 0.7].forEach(function (start) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(audio.currentTime + start);
        osc.stop(audio.currentTime + start + 0.2);
      });
      /* A running AudioContext keeps an audio thread busy even in silence (about 5 % of a
       * core per console, measured in Chromium): it sleeps between two rings. */
      window.clearTimeout(hush);
      hush = window.setTimeout(function () {
        if (audio.state === "running") { hushed = true; audio.suspend(); }
      }, 1500);
    } catch (e) { /* no audio device: the visual signal and the title remain */ }
  }
  function unlockSound() {
    if (audio && audio.state === "suspended" && !hushed) { audio.resume(); }
    if (!audio || audio.state !== "suspended" || hushed) { els.sound.classList.add("tgd-hidden"); }
  }
  document.getElementById("btn-son").addEventListener("click", function () {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    audio.resume().then(unlockSound);
  });
  ["keydown", "pointerdown"].forEach(function (type) { document.addEventListener(type, unlockSound, true); });

  function waiting() {
    return state.alerts.filter(function (a) { return a.state === "ringing"; });
  }
  function updateRinging() {
    var count = waiting().length;
    root.dataset.ringing = count > 0 ? "true" : "false";
    root.dataset.waiting = String(count);
    document.title = (count > 0 ? "(" + count + ") " : "") + baseTitle;
    if (count > 0 && ringTimer === null) {
      ring();
      ringTimer = window.setInterval(ring, 3000);  /* until someone claims */
    } else if (count === 0 && ringTimer !== null) {
      window.clearInterval(ringTimer);
      ringTimer = null;
    }
    fire("waiting", count);
  }

  var notify = { enabled: false };
  var notifyButton = document.getElementById("btn-notifications");
  notifyButton.addEventListener("click", function () {
    if (!("Notification" in window)) { showMessage(T.notificationsDenied, true); return; }
    if (notify.enabled) { setNotify(false); return; }
    window.Notification.requestPermission().then(function (permission) {
      if (permission === "granted") { setNotify(true); } else { showMessage(T.notificationsDenied, true); }
    });
  });
  function setNotify(enabled) {
    notify.enabled = enabled;
    notifyButton.setAttribute("aria-pressed", enabled ? "true" : "false");
    notifyButton.textContent = enabled ? T.notificationsOn : T.notificationsOff;
    try { window.localStorage.setItem("tgd.notifications", enabled ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  try {
    if (window.localStorage.getItem("tgd.notifications") === "1" && window.Notification &&
        window.Notification.permission === "granted") { setNotify(true); }
  } catch (e) { /* private mode */ }
  function desktopNotification(alert) {
    if (!notify.enabled || !window.Notification || window.Notification.permission !== "granted") { return; }
    if (!document.hidden && !state.locked) { return; }
    /* The reference only: never a name on a screen others may see. */
    var note = new window.Notification(T.new, { body: alert.reference || T.unknown, tag: "tgd-alert-" + alert.id });
    note.onclick = function () { window.focus(); select(alert.id); note.close(); };
  }

  function announce(text) {
    els.announce.textContent = "";
    window.setTimeout(function () { els.announce.textContent = text; }, 50);
  }
  function showMessage(text, isError) {
    els.message.textContent = text || "";
    els.message.classList.toggle("tgd-error", !!isError);
  }

  /* --- the board ------------------------------------------------------------------------ */
  function ageOf(alert) {
    var started = Date.parse(alert.ringing_at);
    return Math.max(0, Math.floor((Date.now() + state.serverOffset - started) / 1000));
  }
  function fmtAge(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return (m > 0 ? m + " min " : "") + s + " s";
  }
  function isLate(alert) { return alert.escalated || ageOf(alert) >= config.escalateAfter; }
  function statusText(alert) {
    if (alert.state === "closed") { return T.closed; }
    if (alert.state === "ringing") {
      var ringingText = alert.overflowed ? T.overflowed : (isLate(alert) ? T.escalated : T.ringing);
      return ringingText;
    }
    var text = T.claimed + (alert.operator_id === state.me ? " " + T.mine : "");
    if (alert.police) { text += " · " + T.police; }
    if (alert.ended) { text += " · " + T.ended; }
    return text;
  }
  /* A new row blinks for its first three seconds on this screen: console.js switches the
   * queue's data-blink twice a second. A CSS animation did it before, and restyled and
   * repainted the page on every frame: with alerts coming every half second it tripled a
   * console's cost, and fifty consoles on one machine then showed new alerts late. */
  var NEW_FOR = 3000, blinkTimer = null;
  function isNew(id, now) { return now - state.firstSeen[id] < NEW_FOR; }
  function blinkNew() {
    if (blinkTimer !== null) { return; }
    els.queue.dataset.blink = "on";
    blinkTimer = window.setInterval(function () {
      var now = Date.now(), left = 0;
      els.queue.querySelectorAll(".tgd-new").forEach(function (button) {
        if (isNew(button.dataset.alertId, now)) { left += 1; } else { button.classList.remove("tgd-new"); }
      });
      if (left) { els.queue.dataset.blink = els.queue.dataset.blink === "on" ? "off" : "on"; return; }
      window.clearInterval(blinkTimer);
      blinkTimer = null;
      delete els.queue.dataset.blink;
    }, 500);
  }
  function renderBoard() {
    var now = Date.now();
    state.alerts.forEach(function (alert) { if (!(alert.id in state.firstSeen)) { state.firstSeen[alert.id] = now; } });
    var fresh = false;
    els.queue.textContent = "";
    els.count.textContent = String(state.alerts.length);
    els.empty.classList.toggle("tgd-hidden", state.alerts.length > 0);
    state.alerts.forEach(function (alert) {
      var li = el("li");
      var cls = alert.state === "ringing" ? (isLate(alert) ? "tgd-escalated" : "tgd-ringing") : "";
      var button = el("button", null, cls);
      button.type = "button";
      button.dataset.alertId = alert.id;
      button.dataset.state = alert.state;
      if (isNew(alert.id, now)) { button.classList.add("tgd-new"); fresh = true; }
      button.setAttribute("aria-current", state.selected === alert.id ? "true" : "false");
      button.appendChild(el("strong", alert.reference || T.unknown));
      if (alert.is_test) { button.appendChild(el("span", " — " + T.test)); }
      button.appendChild(el("br"));
      var age = el("span", T.waiting + " " + fmtAge(ageOf(alert)), "tgd-age fr-text--sm");
      age.dataset.ringingAt = alert.ringing_at;
      button.appendChild(age);
      button.appendChild(el("br"));
      button.appendChild(el("span", statusText(alert), "fr-text--sm"));
      button.addEventListener("click", function () { select(alert.id); });
      li.appendChild(button);
      els.queue.appendChild(li);
    });
    if (fresh) { blinkNew(); }
    updateRinging();
    fire("board", state.alerts);
  }
  function loadBoard() {
    return api("GET", "/api/console/board").then(function (data) {
      state.me = data.me;
      state.serverOffset = Date.parse(data.now) - Date.now();
      state.alerts = data.alerts;
      if (state.loadedHead === null) { state.loadedHead = data.head; }
      if (data.head > state.lastSeq) { state.lastSeq = data.head; }
      if (data.locked && !state.locked) { fire("locked", true); }
      renderBoard();
      if (state.detail) {
        var current = find(state.detail.id);
        if (current) { Object.assign(state.detail, current); } else { state.detail.state = "closed"; }
        renderActions();
      }
      return data;
    });
  }
  /* Many consoles receive the same event at once: spread their board reads a little,
   * and let a burst of events share one read. */
  var pendingBoard = null;
  function loadBoardSoon() {
    if (!pendingBoard) {
      pendingBoard = new Promise(function (resolve) {
        window.setTimeout(function () {
          pendingBoard = null;
          loadBoard().then(resolve, resolve);
        }, 30 + Math.floor(Math.random() * 120));
      });
    }
    return pendingBoard;
  }
  function find(id) {
    return state.alerts.filter(function (a) { return a.id === id; })[0] || null;
  }
  window.setInterval(function () {
    document.querySelectorAll(".tgd-age").forEach(function (node) {
      var seconds = Math.max(0, Math.floor((Date.now() + state.serverOffset - Date.parse(node.dataset.ringingAt)) / 1000));
      node.textContent = T.waiting + " " + fmtAge(seconds);
    });
  }, 1000);
  window.setInterval(function () { if (state.alerts.length) { renderBoard(); } }, 5000);  /* lateness follows the age */

  /* --- the file on screen ----------------------------------------------------------------- */
  function dl(parent, term, value) {
    if (value === null || value === undefined || value === "") { return; }
    parent.appendChild(el("dt", term));
    parent.appendChild(el("dd", value));
  }
  function renderDetail(d) {
    state.detail = d;
    els.detail.textContent = "";
    els.detailTitle.textContent = d.file ? d.file.name : (d.reference || T.unknown);
    var meta = el("p", (d.reference ? d.reference + " · " : "") + d.ringing_local + " · " + statusText(d), "fr-text--sm");
    meta.id = "etat-alerte";
    els.detail.appendChild(meta);
    /* Coverage (zones blanches) and restricted numbers (issue 15): French sentences. */
    (d.warnings || []).forEach(function (w) { els.detail.appendChild(el("p", w, "tgd-temp")); });
    if (!d.file) {
      els.detail.appendChild(el("p", T.noFile));
    } else {
      var f = d.file;
      f.temporary.filter(function (t) { return t.current; }).forEach(function (t) {
        var box = el("div", null, "tgd-temp");
        box.appendChild(el("strong", T.temporary + " (" + t.from + " → " + t.until + ")"));
        box.appendChild(el("p", t.content));
        els.detail.appendChild(box);
      });
      var list = el("dl");
      dl(list, T.identity, f.name + (f.birth_date ? ", " + T.born + " " + f.birth_date : ""));
      dl(list, T.line, d.msisdn);
      dl(list, T.residence, f.residence);
      dl(list, T.workplace, f.workplace + (f.workplace_hours ? " (" + f.workplace_hours + ")" : ""));
      dl(list, T.phones, f.other_phones.join(" · "));
      dl(list, T.parquet, f.parquet + (f.magistrate ? " — " + f.magistrate : ""));
      dl(list, T.association, [f.association, f.association_contact, f.association_phone].filter(Boolean).join(" — "));
      dl(list, T.remarks, f.remarks);
      els.detail.appendChild(list);
      if (f.recent.length) {
        els.detail.appendChild(el("h3", T.recent, "fr-h6 fr-mt-2w"));
        var ul = el("ul");
        ul.id = "historique";
        f.recent.forEach(function (a) {
          ul.appendChild(el("li", a.at + " — " + a.nature + (a.orientation ? " (" + a.orientation + ")" : "")));
        });
        els.detail.appendChild(ul);
      }
    }
    els.detail.appendChild(el("h3", T.positions, "fr-h6 fr-mt-2w"));
    if (d.positions.length) {
      var pl = el("ul");
      d.positions.slice(0, 5).forEach(function (p) {
        pl.appendChild(el("li", p.at + " — " + p.lat.toFixed(5) + ", " + p.lon.toFixed(5) +
          (p.accuracy !== null ? " (" + T.accuracy + " " + p.accuracy + " m)" : "")));
      });
      els.detail.appendChild(pl);
    } else {
      els.detail.appendChild(el("p", T.noPosition, "fr-text--sm"));
    }
    if (d.note) {
      els.detail.appendChild(el("h3", T.note, "fr-h6 fr-mt-2w"));
      els.detail.appendChild(el("pre", d.note, "fr-text--sm"));
    }
    renderLegs(d);
    renderForce(d);
    renderActions();
    fire("detail", d);
  }
  function renderLegs(d) {
    els.legs.textContent = "";
    els.bridge.classList.toggle("tgd-hidden", !d.legs || !d.legs.length);
    (d.legs || []).forEach(function (leg) {
      var who = leg.role_label + (leg.unit_name ? " (" + leg.unit_name + ")" : "") +
        (leg.role === "operator" && leg.user_id === state.me ? " — " + T.myLine : "");
      var cls = leg.failed ? "tgd-leg--failed" : (leg.status === "in-progress" ? "tgd-leg--ok" : (leg.open ? "tgd-leg--ringing" : ""));
      var li = el("li", who + " : " + leg.status_label + (leg.failure ? " — " + leg.failure : ""), cls);
      li.dataset.role = leg.role;
      li.dataset.status = leg.status;
      els.legs.appendChild(li);
    });
  }
  function renderForce(d) {
    els.force.textContent = "";
    els.force.appendChild(el("h3", T.force, "fr-h6"));
    var p = d.proposal;
    if (p.unit_id) {
      els.force.appendChild(el("p", p.unit_name + " — " + p.priority_number, "fr-text--lg fr-mb-1v"));
      els.force.appendChild(el("p", p.reason, "fr-text--sm"));
    } else {
      els.force.appendChild(el("p", p.point ? T.noForce : T.noPoint));
    }
    els.otherUnit.textContent = "";
    els.otherUnit.appendChild(el("option", unitPlaceholder));
    els.otherUnit.firstChild.value = "";
    d.units.forEach(function (u) {
      var option = el("option", u.name + " — " + u.number);
      option.value = u.id;
      els.otherUnit.appendChild(option);
    });
  }

  function held(d) { return !!d && d.state === "claimed" && d.operator_id === state.me; }
  function myOpenLeg(d) {
    return (d && d.legs || []).some(function (l) { return l.role === "operator" && l.user_id === state.me && l.open; });
  }
  function renderActions() {
    var d = state.detail;
    var mine = held(d) && !state.locked;
    buttons.claim.disabled = state.locked || (d ? d.state !== "ringing" : waiting().length === 0);
    buttons.force.disabled = !mine || !d.proposal || !d.proposal.unit_id;
    buttons.otherUnit.disabled = !mine;
    els.otherUnit.disabled = !mine;
    buttons.callback.disabled = !mine || !d.identified;
    buttons.position.disabled = !mine || !d.identified;
    buttons.redial.disabled = !mine || myOpenLeg(d);
    buttons.leave.disabled = !mine || !myOpenLeg(d);
    buttons.close.disabled = !mine;
    els.noteBlock.classList.toggle("tgd-hidden", !mine);
    var text;
    if (!d) { text = waiting().length ? waiting().length + " " + T.waitingCount : T.noSelection; }
    else if (d.state === "closed") { text = T.alertClosed; }
    else if (mine) { text = T.held; }
    else if (d.state === "claimed") { text = T.heldByOther; }
    else { text = T.notHeld; }
    els.actionState.textContent = (d ? (d.reference || T.unknown) + " — " : "") + text;
  }

  function select(id) {
    state.selected = id;
    renderBoard();
    return refreshDetail().then(function () { els.detailTitle.focus(); });
  }
  /* geocode.js asks for the file again once the operator corrected a place. */
  root.addEventListener("tgd:refresh", function () { refreshDetail(); });
  function refreshDetail() {
    if (!state.selected || state.locked) { return Promise.resolve(); }
    return api("GET", "/api/console/alerts/" + state.selected).then(renderDetail).catch(function (err) {
      showMessage(err.message, true);
    });
  }
  function openOldestWaiting() {
    var next = waiting().sort(function (a, b) { return Date.parse(a.ringing_at) - Date.parse(b.ringing_at); })[0];
    if (!next) {
      state.selected = null;
      state.detail = null;
      els.detail.textContent = "";
      els.legs.textContent = "";
      els.bridge.classList.add("tgd-hidden");
      els.detailTitle.textContent = T.noneWaiting;
      renderBoard();
      renderActions();
      fire("detail", null);
      return Promise.resolve(null);
    }
    announce(T.nextOpened + " " + (next.reference || T.unknown));
    return select(next.id).then(function () { return next; });
  }

  /* --- actions ------------------------------------------------------------------------- */
  /* Actions run one after the other: a key pressed while the previous action is still
   * answering (P then F at once) waits for it, then checks whether it still applies. */
  var chain = Promise.resolve(null);
  function serial(fn) {
    chain = chain.then(fn, fn);
    return chain;
  }
  function act(path, body, done) {
    if (!state.selected) { return Promise.resolve(null); }
    state.busy = true;
    showMessage("");
    var id = state.selected;
    return api("POST", "/api/console/alerts/" + id + "/" + path, body || {}).then(function (data) {
      showMessage(data.warning || done || T.done, !!data.warning);
      if (data.warning) { announce(data.warning); }
      return Promise.all([loadBoard(), refreshDetail()]).then(function () { return data; });
    }).catch(function (err) {
      showMessage(err.message, true);
      announce(err.message);
      return Promise.all([loadBoard(), refreshDetail()]).then(function () { return null; });
    }).then(function (data) { state.busy = false; return data; });
  }
  var actions = {
    claim: function () { return serial(claimNow); },
    force: function () { return serial(forceNow); },
    otherUnit: function () { return serial(otherUnitNow); },
    chooseUnit: function () { if (!els.otherUnit.disabled) { els.otherUnit.focus(); } },
    callback: function () { return serial(function () { return buttons.callback.disabled ? null : act("callback"); }); },
    position: function () { return serial(function () { return buttons.position.disabled ? null : act("position"); }); },
    redial: function () { return serial(function () { return buttons.redial.disabled ? null : act("audio", {}, T.claimedDone); }); },
    leave: function () { return serial(function () { return buttons.leave.disabled ? null : act("leave", {}, T.leftDone); }); },
    close: function () { return serial(openClosing); },
    note: function () {
      if (!els.noteBlock.classList.contains("tgd-hidden")) { document.getElementById("note").focus(); }
    },
    next: function (step) {
      if (!state.alerts.length) { return; }
      var index = state.alerts.map(function (a) { return a.id; }).indexOf(state.selected);
      var target = state.alerts[(index + step + state.alerts.length) % state.alerts.length];
      if (index === -1) { target = state.alerts[step > 0 ? 0 : state.alerts.length - 1]; }
      select(target.id);
    }
  };
  function claimNow() {
    if (buttons.claim.disabled) { return null; }
    var target = state.detail && state.detail.state === "ringing" ? state.detail.id : null;
    if (!target) {
      var oldest = waiting().sort(function (a, b) { return Date.parse(a.ringing_at) - Date.parse(b.ringing_at); })[0];
      if (!oldest) { return null; }
      return select(oldest.id).then(function () { return act("claim", {}, T.claimedDone); });
    }
    return act("claim", {}, T.claimedDone);
  }
  function forceNow() {
    if (buttons.force.disabled) { return null; }
    return act("force", { unit_id: state.detail.proposal.unit_id }, T.forceDone);
  }
  function otherUnitNow() {
    if (buttons.otherUnit.disabled) { return null; }
    var unit = parseInt(els.otherUnit.value, 10);
    if (!unit) { showMessage(T.unitFirst, true); els.otherUnit.focus(); return null; }
    return act("force", { unit_id: unit }, T.forceDone);
  }
  function openClosing() {
    if (buttons.close.disabled || els.closeDialog.open) { return null; }
    els.closeError.classList.add("tgd-hidden");
    els.closeDialog.showModal();
    document.getElementById("nature").focus();
    return null;
  }
  buttons.claim.addEventListener("click", actions.claim);
  buttons.force.addEventListener("click", actions.force);
  buttons.otherUnit.addEventListener("click", actions.otherUnit);
  buttons.callback.addEventListener("click", actions.callback);
  buttons.position.addEventListener("click", actions.position);
  buttons.redial.addEventListener("click", actions.redial);
  buttons.leave.addEventListener("click", actions.leave);
  buttons.close.addEventListener("click", actions.close);
  document.getElementById("btn-note").addEventListener("click", function () {
    var field = document.getElementById("note");
    act("note", { text: field.value }).then(function (data) { if (data) { field.value = ""; } });
  });
  document.getElementById("btn-annuler-cloture").addEventListener("click", function () { els.closeDialog.close(); });
  document.getElementById("cloture").addEventListener("submit", function (event) {
    event.preventDefault();
    var id = state.selected;
    api("POST", "/api/console/alerts/" + id + "/close", {
      nature: document.getElementById("nature").value,
      orientation: document.getElementById("orientation").value,
      cause: document.getElementById("cause").value,
      note: document.getElementById("note-cloture").value
    }).then(function (data) {
      els.closeDialog.close();
      document.getElementById("cloture").reset();
      showMessage(data.warning || T.closedDone, !!data.warning);
      return loadBoard().then(openOldestWaiting);  /* the next waiting alert opens */
    }).catch(function (err) {
      els.closeError.textContent = err.message;
      els.closeError.classList.remove("tgd-hidden");
    });
  });

  /* --- my audio line (R-24d) ----------------------------------------------------------------- */
  var lineButton = document.getElementById("btn-ma-ligne");
  var lineForm = document.getElementById("form-ma-ligne");
  lineButton.addEventListener("click", function () {
    var open = lineForm.classList.toggle("tgd-hidden") === false;
    lineButton.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { document.getElementById("champ-ma-ligne").focus(); }
  });
  lineForm.addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/api/console/audio-line", { line: document.getElementById("champ-ma-ligne").value }).then(function (data) {
      var shown = document.getElementById("ma-ligne");
      shown.textContent = data.display || T.noLine;
      shown.dataset.raw = data.line || "";
      lineForm.classList.add("tgd-hidden");
      lineButton.setAttribute("aria-expanded", "false");
      showMessage(T.lineSaved);
    }).catch(function (err) { showMessage(err.message, true); });
  });

  /* --- live events (E-02) ------------------------------------------------------------------ */
  /* What a live event changes on the board, applied from its payload alone. A burst of new
   * alerts (and their escalation and overflow ten and thirty seconds later) then costs the
   * server no read per console: with fifty consoles, fifty board reads per event were what
   * delayed the next alert on every screen. Any other change is read back from the board;
   * the board is also read again every half minute, and after every catch-up. */
  /* Kinds that change no row of the board (the file on screen may still need a read). */
  var QUIET_KINDS = {
    alert_answered: true, leg_updated: true, position_received: true, position_requested: true,
    sms_received: true, sms_read: true, supervisor_alarm: true, task_escalated: true
  };
  var LOCAL = {
    alert_opened: function (p) {
      if (p.is_canary || find(p.alert_id)) { return true; }
      if (!p.ringing_at) { return false; }
      state.alerts.push({
        id: p.alert_id, reference: p.reference, state: "ringing", is_test: p.is_test,
        identified: p.identified, operator_id: null, escalated: false, overflowed: false,
        police: false, ended: false, ringing_at: p.ringing_at
      });
      return true;
    },
    alert_escalated: function (p) { return flag(p.alert_id, "escalated"); },
    alert_overflowed: function (p) { return flag(p.alert_id, "overflowed"); }
  };
  function flag(id, name) {
    var alert = find(id);
    if (!alert || alert.state !== "ringing") { return false; }
    alert[name] = true;
    if (state.detail && state.detail.id === id) {
      state.detail[name] = true;
      var meta = document.getElementById("etat-alerte");
      if (meta) {
        meta.textContent = (state.detail.reference ? state.detail.reference + " · " : "") +
          state.detail.ringing_local + " · " + statusText(state.detail);
      }
      renderActions();
    }
    return true;
  }
  /* Apply one live event to the board; false when only a board read can tell its effect. */
  function applyLocally(e) {
    if (QUIET_KINDS[e.kind]) { return true; }
    var handler = LOCAL[e.kind];
    return handler ? handler(e.payload || {}) : false;
  }
  function apply(events, live) {
    var fresh = events.filter(function (e) { return e.seq > state.lastSeq; });
    if (!fresh.length) { return Promise.resolve(); }
    state.lastSeq = fresh[fresh.length - 1].seq;
    root.dataset.lastSeq = String(state.lastSeq);
    var opened = fresh.filter(function (e) { return e.kind === "alert_opened" && !e.payload.is_canary; });
    fresh.forEach(function (e) { fire("event", e); });
    /* Console modules outside TGDConsole (sms.js…) follow the same events, once each. */
    root.dispatchEvent(new CustomEvent("tgd:events", { detail: fresh }));
    /* A catch-up batch waits for the board: its alerts may be closed already. */
    var unknown = live ? fresh.filter(function (e) { return !applyLocally(e); }) : fresh;
    /* The file on screen is read again for what its alert went through, except what the
     * board's own handlers already showed on it (escalation, overflow). */
    var touchesSelected = fresh.some(function (e) {
      return e.payload && e.payload.alert_id === state.selected && (!live || !LOCAL[e.kind] || unknown.indexOf(e) >= 0);
    });
    if (live && unknown.length < fresh.length) { renderBoard(); }
    var board = unknown.length ? loadBoardSoon() : Promise.resolve();
    return board.then(function () {
      /* Announce only the alerts that are still waiting now (never cry wolf). */
      var stillWaiting = opened.map(function (e) { return find(e.payload.alert_id); })
        .filter(function (a) { return a && a.state === "ringing"; });
      if (stillWaiting.length) {
        var a = stillWaiting[stillWaiting.length - 1];
        announce(T.new + " : " + (a.reference || T.unknown));
        desktopNotification(a);
        if (!state.selected && !state.locked) { select(a.id); }
      }
      if (touchesSelected) { refreshDetail(); }
    });
  }
  window.setInterval(function () { if (!state.locked) { loadBoardSoon(); } }, 25000 + Math.floor(Math.random() * 10000));
  function setConnection(ok, wasLost) {
    root.dataset.connection = ok ? "ok" : "lost";
    if (ok && !wasLost) { els.status.classList.add("tgd-hidden"); return; }
    els.status.classList.remove("tgd-hidden");
    els.status.classList.toggle("fr-alert--error", !ok);
    els.status.classList.toggle("fr-alert--success", ok);
    els.status.classList.toggle("fr-alert--info", false);
    els.statusText.textContent = ok ? T.back : T.lost;
    if (ok) { window.setTimeout(function () { if (root.dataset.connection === "ok") { els.status.classList.add("tgd-hidden"); } }, 5000); }
  }

  /* The sequence is gapless (E-02), so a live batch that starts past lastSeq + 1 means
   * events were published and never pushed (a database restart in the middle of a
   * publication, two processes' pushes crossing): the console asks for them again and
   * holds the live batches until they come ("caught_up"). The hub also says its last
   * sequence every few seconds ("console_head"), for a gap that no later event reveals. */
  function connect() {
    var lost = false;
    var held = null; /* live batches kept while the console reads what it missed */
    var socket = window.io({ transports: ["websocket", "polling"], reconnectionDelayMax: 2000 });
    function resume() {
      held = held || [];
      socket.emit("resume", { after: state.lastSeq });
    }
    function live(events) {
      if (held) { held.push(events); return; }
      var fresh = events.filter(function (e) { return e.seq > state.lastSeq; });
      if (fresh.length && fresh[0].seq > state.lastSeq + 1) { held = [events]; resume(); return; }
      apply(events, true);
    }
    socket.on("connect", function () {
      held = null;
      resume();
      setConnection(true, lost);
      lost = false;
    });
    socket.on("disconnect", function () { lost = true; setConnection(false, true); });
    socket.on("connect_error", function () { lost = true; setConnection(false, true); });
    socket.on("caught_up", function (data) {
      var later = held || [];
      held = null;
      apply(data.events).then(loadBoard);
      later.forEach(live);
    });
    socket.on("console_events", live);
    socket.on("console_head", function (data) {
      /* A push of another process may be on its way: behind still a second later, ask. */
      window.setTimeout(function () {
        if (data.seq > state.lastSeq && !held && socket.connected) { resume(); }
      }, 1000);
    });
    window.addEventListener("online", function () { if (!socket.connected) { socket.connect(); } });
    return socket;
  }

  window.TGDConsole = {
    on: on, fire: fire, api: api, select: select, act: act, actions: actions, state: state,
    config: config, labels: labels, T: T, el: el, refresh: function () { return Promise.all([loadBoard(), refreshDetail()]); },
    renderActions: renderActions, showMessage: showMessage, announce: announce, waiting: waiting
  };

  /* The board first (and the sequence it reflects), then the live connection: a reopened
   * console resumes after what it has shown, it never replays closed alerts as new. */
  function start() {
    fire("ready", window.TGDConsole);
    loadBoard().then(function () {
      renderActions();
      connect();
    }).catch(function () { connect(); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);  /* after the other console modules */
  } else {
    window.setTimeout(start, 0);
  }
})();
