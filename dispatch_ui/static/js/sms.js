/* TGD console: the "SMS reçus" panel (texts from unknown numbers, free text from terminals).
 *
 * Lists the messages from /api/console/sms, refreshes on the console's live events
 * ("tgd:events" dispatched by console.js on #console) and marks a message read.
 * Every text comes from <template id="textes-sms">; data is inserted as text only.
 */
(function () {
  "use strict";

  var panel = document.getElementById("sms-recus");
  var root = document.getElementById("console");
  if (!panel || !root) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var T = {};
  document.getElementById("textes-sms").content.querySelectorAll("[data-k]").forEach(function (el) {
    T[el.dataset.k] = el.textContent;
  });
  var list = document.getElementById("sms-liste");
  var empty = document.getElementById("sms-vide");
  var count = document.getElementById("sms-compteur");
  var announce = document.getElementById("sms-annonce");

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  function call(method, url) {
    var options = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") { options.headers["X-CSRFToken"] = csrf; }
    return fetch(url, options).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    });
  }

  function render(messages) {
    list.textContent = "";
    var unread = messages.filter(function (m) { return !m.read; }).length;
    count.textContent = String(unread);
    count.classList.toggle("tgd-hidden", unread === 0);
    empty.classList.toggle("tgd-hidden", messages.length > 0);
    messages.forEach(function (m) {
      var li = el("li", null, m.read ? "tgd-sms-read" : "tgd-sms-unread");
      li.dataset.smsId = m.id;
      var from = m.reference || (m.sender ? m.sender + " (" + T.unknownSender + ")" : T.withheld);
      li.appendChild(el("strong", from));
      li.appendChild(el("span", " — " + m.at, "fr-text--sm"));
      li.appendChild(el("p", m.body, "fr-mb-1v"));
      if (m.file_id) {
        var link = el("a", T.file, "fr-link fr-text--sm fr-mr-2w");
        link.href = "/dossiers/" + m.file_id;
        li.appendChild(link);
      }
      if (m.read) {
        li.appendChild(el("span", T.wasRead, "fr-badge fr-badge--sm"));
      } else {
        var button = el("button", T.read, "fr-btn fr-btn--sm fr-btn--tertiary");
        button.type = "button";
        button.addEventListener("click", function () {
          call("POST", "/api/console/sms/" + m.id + "/lu").then(refresh);
        });
        li.appendChild(button);
      }
      list.appendChild(li);
    });
  }

  function refresh() {
    return call("GET", "/api/console/sms").then(function (data) { render(data.messages); })
      .catch(function () { /* the next event or reload tries again */ });
  }

  root.addEventListener("tgd:events", function (event) {
    var kinds = (event.detail || []).map(function (e) { return e.kind; });
    if (kinds.indexOf("sms_received") >= 0) {
      announce.textContent = "";
      window.setTimeout(function () { announce.textContent = T.new; }, 50);
    }
    if (kinds.indexOf("sms_received") >= 0 || kinds.indexOf("sms_read") >= 0) { refresh(); }
  });
  refresh();
})();
