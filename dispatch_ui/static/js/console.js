/* TGD operators' console: live board, the file on screen, map and actions.
 *
 * Events come over Socket.IO with a gapless sequence number (E-02). On every
 * (re)connection the console sends the last sequence it saw ("resume") and
 * receives what it missed; it ignores any sequence it already applied. Every
 * text shown comes from the page's <template id="textes"> (French, or English
 * when chosen), and data is always inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("console");
  if (!root) { return; }
  var config = JSON.parse(root.dataset.config || "{}");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var T = {};
  document.getElementById("textes").content.querySelectorAll("[data-k]").forEach(function (el) {
    T[el.dataset.k] = el.textContent;
  });

  var state = { lastSeq: 0, alerts: [], selected: null, me: null, detail: null, serverOffset: 0, seen: {} };
  var els = {
    queue: document.getElementById("file-alertes"),
    empty: document.getElementById("file-vide"),
    count: document.getElementById("compteur"),
    detail: document.getElementById("fiche"),
    detailTitle: document.getElementById("titre-fiche"),
    actions: document.getElementById("actions"),
    force: document.getElementById("force"),
    status: document.getElementById("etat-connexion"),
    statusText: document.getElementById("etat-connexion-texte"),
    announce: document.getElementById("annonce"),
    message: document.getElementById("message-action"),
    otherUnit: document.getElementById("autre-unite")
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
      if (response.status === 302 || response.redirected) { window.location.reload(); }
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || T.error); }
        return data;
      });
    });
  }

  /* --- sound and announcements ------------------------------------------------------ */
  var audio = null;
  function ring() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
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
    } catch (e) { /* no audio device: the visual signal remains */ }
  }
  function announce(text) {
    els.announce.textContent = "";
    window.setTimeout(function () { els.announce.textContent = text; }, 50);
  }

  /* --- the board ------------------------------------------------------------------- */
  function ageOf(alert) {
    var started = Date.parse(alert.ringing_at);
    return Math.max(0, Math.floor((Date.now() + state.serverOffset - started) / 1000));
  }
  function fmtAge(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return (m > 0 ? m + " min " : "") + s + " s";
  }
  function statusText(alert) {
    if (alert.overflowed) { return T.overflowed; }
    if (alert.state === "ringing") {
      return ageOf(alert) >= config.escalateAfter || alert.escalated ? T.escalated : T.ringing;
    }
    var text = T.claimed + (alert.operator_id === state.me ? " " + T.mine : "");
    return alert.police ? text + " · " + T.police : text;
  }
  function renderBoard() {
    els.queue.textContent = "";
    els.count.textContent = String(state.alerts.length);
    els.empty.classList.toggle("tgd-hidden", state.alerts.length > 0);
    state.alerts.forEach(function (alert) {
      var li = el("li");
      var button = el("button", null, alert.state === "ringing"
        ? (ageOf(alert) >= config.escalateAfter || alert.escalated ? "tgd-escalated" : "tgd-ringing") : "");
      button.type = "button";
      button.dataset.alertId = alert.id;
      if (!state.seen[alert.id]) { button.classList.add("tgd-new"); }
      button.setAttribute("aria-current", state.selected === alert.id ? "true" : "false");
      button.appendChild(el("strong", alert.reference || T.unknown));
      if (alert.is_test) { button.appendChild(el("span", " (" + T.test + ")")); }
      button.appendChild(el("br"));
      var age = el("span", T.waiting + " " + fmtAge(ageOf(alert)), "tgd-age");
      age.dataset.ringingAt = alert.ringing_at;
      button.appendChild(age);
      button.appendChild(el("br"));
      button.appendChild(el("span", statusText(alert), "fr-text--sm"));
      button.addEventListener("click", function () { select(alert.id); });
      li.appendChild(button);
      els.queue.appendChild(li);
    });
    state.alerts.forEach(function (alert) { state.seen[alert.id] = true; });
  }
  function loadBoard() {
    return api("GET", "/api/console/board").then(function (data) {
      state.me = data.me;
      state.serverOffset = Date.parse(data.now) - Date.now();
      state.alerts = data.alerts;
      if (data.head > state.lastSeq) { state.lastSeq = data.head; }
      renderBoard();
      if (state.selected && !state.alerts.some(function (a) { return a.id === state.selected; })) {
        refreshDetail();
      }
      return data;
    });
  }
  window.setInterval(function () {
    document.querySelectorAll(".tgd-age").forEach(function (node) {
      var seconds = Math.max(0, Math.floor((Date.now() + state.serverOffset - Date.parse(node.dataset.ringingAt)) / 1000));
      node.textContent = T.waiting + " " + fmtAge(seconds);
    });
  }, 1000);
  window.setInterval(renderBoard, 5000);  /* escalation colours follow the age */

  /* --- the file on screen ------------------------------------------------------------ */
  function dl(parent, term, value) {
    if (value === null || value === undefined || value === "") { return; }
    parent.appendChild(el("dt", term));
    parent.appendChild(el("dd", value));
  }
  function renderDetail(d) {
    state.detail = d;
    els.detail.textContent = "";
    var title = d.file ? d.file.name : (d.reference || T.unknown);
    els.detailTitle.textContent = title;
    var meta = el("p", (d.reference ? d.reference + " · " : "") + d.ringing_local + " · " + statusText(d), "fr-text--sm");
    els.detail.appendChild(meta);
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
      dl(list, T.phones, f.other_phones.join(", "));
      dl(list, T.parquet, f.parquet + (f.magistrate ? " — " + f.magistrate : ""));
      dl(list, T.association, [f.association, f.association_contact, f.association_phone].filter(Boolean).join(" — "));
      dl(list, T.remarks, f.remarks);
      els.detail.appendChild(list);
      if (f.recent.length) {
        els.detail.appendChild(el("h3", T.recent, "fr-h6 fr-mt-2w"));
        var ul = el("ul");
        f.recent.forEach(function (a) { ul.appendChild(el("li", a.at + " — " + a.nature + (a.is_test ? " (" + T.test + ")" : ""))); });
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
    renderForce(d);
    renderActions(d);
    renderMap(d);
    /* Other console modules (geocode.js…) add to the file on screen. */
    root.dispatchEvent(new CustomEvent("tgd:fiche", { detail: { data: d, map: map } }));
  }
  root.addEventListener("tgd:refresh", function () { refreshDetail(); });
  function renderForce(d) {
    els.force.textContent = "";
    els.force.appendChild(el("h3", T.force, "fr-h6"));
    var p = d.proposal;
    if (p.unit_id) {
      els.force.appendChild(el("p", p.unit_name + " — " + p.priority_number, "fr-text--lg"));
      els.force.appendChild(el("p", p.reason, "fr-text--sm"));
    } else {
      els.force.appendChild(el("p", p.point ? T.noForce : T.noPoint));
    }
  }
  function renderActions(d) {
    els.actions.classList.toggle("tgd-hidden", d.state === "closed");
    document.getElementById("btn-prendre").disabled = d.state !== "ringing";
    document.getElementById("btn-forces").disabled = !d.proposal.unit_id;
    document.getElementById("btn-position").disabled = !d.identified;
    document.getElementById("btn-rappel").disabled = !d.identified;
    els.otherUnit.textContent = "";
    d.units.forEach(function (u) {
      var option = el("option", u.name + " — " + u.number);
      option.value = u.id;
      els.otherUnit.appendChild(option);
    });
  }
  function select(id) {
    state.selected = id;
    renderBoard();
    refreshDetail().then(function () { els.detailTitle.focus(); });
  }
  function refreshDetail() {
    if (!state.selected) { return Promise.resolve(); }
    return api("GET", "/api/console/alerts/" + state.selected).then(renderDetail).catch(function (err) {
      els.message.textContent = err.message;
    });
  }

  /* --- the map ----------------------------------------------------------------------- */
  var map = null, zonesLayer = null, pointsLayer = null;
  function initMap() {
    if (!window.L) { return; }
    map = window.L.map("carte", { zoomControl: true, attributionControl: !!config.tileUrl });
    if (config.tileUrl) {
      window.L.tileLayer(config.tileUrl, { attribution: config.tileAttribution || "" }).addTo(map);
    }
    map.setView([46.6, 2.4], 5);
    if (window.TGDCoverage) { window.TGDCoverage.attach(map); }  /* coverage.js (issue 15) */
    pointsLayer = window.L.layerGroup().addTo(map);
    api("GET", "/api/console/zones").then(function (geojson) {
      zonesLayer = window.L.geoJSON(geojson, {
        style: function (feature) {
          return { color: feature.properties.kind === "police" ? "#000091" : "#18753c", weight: 1, fillOpacity: 0.08 };
        },
        onEachFeature: function (feature, layer) { layer.bindTooltip(feature.properties.name); }
      }).addTo(map);
    });
  }
  function renderMap(d) {
    if (!map) { return; }
    pointsLayer.clearLayers();
    var bounds = [];
    d.positions.slice(0, 5).forEach(function (p, i) {
      var ll = [p.lat, p.lon];
      bounds.push(ll);
      window.L.circleMarker(ll, { radius: i === 0 ? 7 : 4, color: "#ce0500" }).addTo(pointsLayer).bindTooltip(p.at);
      if (p.accuracy) { window.L.circle(ll, { radius: p.accuracy, color: "#ce0500", weight: 1, fillOpacity: 0.1 }).addTo(pointsLayer); }
    });
    if (d.file && d.file.residence_coords) {
      bounds.push(d.file.residence_coords);
      window.L.circleMarker(d.file.residence_coords, { radius: 6, color: "#000091" }).addTo(pointsLayer).bindTooltip(T.residence);
    }
    if (d.file && d.file.workplace_coords) {
      bounds.push(d.file.workplace_coords);
      window.L.circleMarker(d.file.workplace_coords, { radius: 6, color: "#6a6af4" }).addTo(pointsLayer).bindTooltip(T.workplace);
    }
    if (d.proposal.point) { bounds.push(d.proposal.point); }
    if (bounds.length) { map.fitBounds(bounds, { maxZoom: 15, padding: [20, 20] }); }
  }

  /* --- actions ----------------------------------------------------------------------- */
  function act(path, body) {
    els.message.textContent = "";
    return api("POST", "/api/console/alerts/" + state.selected + "/" + path, body || {}).then(function () {
      els.message.textContent = T.done;
      return Promise.all([loadBoard(), refreshDetail()]);
    }).catch(function (err) { els.message.textContent = err.message; });
  }
  document.getElementById("btn-prendre").addEventListener("click", function () { act("claim"); });
  document.getElementById("btn-forces").addEventListener("click", function () {
    act("force", { unit_id: state.detail.proposal.unit_id });
  });
  document.getElementById("btn-autre-unite").addEventListener("click", function () {
    act("force", { unit_id: parseInt(els.otherUnit.value, 10) });
  });
  document.getElementById("btn-quitter").addEventListener("click", function () { act("leave"); });
  document.getElementById("btn-rappel").addEventListener("click", function () { act("callback"); });
  document.getElementById("btn-position").addEventListener("click", function () { act("position"); });
  document.getElementById("btn-note").addEventListener("click", function () {
    var field = document.getElementById("note");
    act("note", { text: field.value }).then(function () { field.value = ""; });
  });
  document.getElementById("cloture").addEventListener("submit", function (event) {
    event.preventDefault();
    act("close", {
      nature: document.getElementById("nature").value,
      orientation: document.getElementById("orientation").value,
      cause: document.getElementById("cause").value,
      note: document.getElementById("note-cloture").value
    });
  });

  /* --- live events (E-02) -------------------------------------------------------------- */
  function apply(events) {
    var fresh = events.filter(function (e) { return e.seq > state.lastSeq; });
    if (!fresh.length) { return; }
    state.lastSeq = fresh[fresh.length - 1].seq;
    root.dataset.lastSeq = String(state.lastSeq);
    /* Other console modules (sms.js…) follow the same events, once each. */
    root.dispatchEvent(new CustomEvent("tgd:events", { detail: fresh }));
    var opened = fresh.filter(function (e) { return e.kind === "alert_opened" && !e.payload.is_canary; });
    var touchesSelected = fresh.some(function (e) { return e.payload && e.payload.alert_id === state.selected; });
    loadBoard().then(function () {
      if (opened.length) {
        ring();
        var a = state.alerts.filter(function (x) { return x.id === opened[opened.length - 1].payload.alert_id; })[0];
        announce(T.new + " : " + ((a && a.reference) || T.unknown));
        if (!state.selected && a) { select(a.id); }
      }
      if (touchesSelected) { refreshDetail(); }
    });
  }
  function setConnection(ok, wasLost) {
    root.dataset.connection = ok ? "ok" : "lost";
    if (ok && !wasLost) { els.status.classList.add("tgd-hidden"); return; }
    els.status.classList.remove("tgd-hidden");
    els.status.classList.toggle("fr-alert--error", !ok);
    els.status.classList.toggle("fr-alert--success", ok);
    els.statusText.textContent = ok ? T.back : T.lost;
    if (ok) { window.setTimeout(function () { els.status.classList.add("tgd-hidden"); }, 5000); }
  }

  var lost = false;
  var socket = window.io({ transports: ["websocket", "polling"], reconnectionDelayMax: 2000 });
  socket.on("connect", function () {
    socket.emit("resume", { after: state.lastSeq });
    setConnection(true, lost);
    lost = false;
  });
  socket.on("disconnect", function () { lost = true; setConnection(false, true); });
  socket.on("connect_error", function () { lost = true; setConnection(false, true); });
  socket.on("caught_up", function (data) { apply(data.events); loadBoard(); });
  socket.on("console_event", function (event) { apply([event]); });
  window.addEventListener("online", function () { if (!socket.connected) { socket.connect(); } });

  initMap();
  loadBoard();
})();
