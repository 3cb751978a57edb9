/* TGD console: where the file's addresses are and the operator's correction on the map.
 *
 * console.js announces each file it shows ("tgd:fiche" on #console, with the data and the
 * map); this module adds, under the file, how each address was placed (to the house
 * number, the street, only the commune, by an operator) and a button to place it by hand:
 * the next click on the map is sent to /api/console/fichiers/<id>/position, then the
 * console reloads the file ("tgd:refresh"). Texts come from <template id="textes-geocode">.
 */
(function () {
  "use strict";

  var root = document.getElementById("console");
  var texts = document.getElementById("textes-geocode");
  if (!root || !texts) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var T = {};
  texts.content.querySelectorAll("[data-k]").forEach(function (el) { T[el.dataset.k] = el.textContent; });
  var waiting = null;  /* {map, handler} while the operator is placing a point */

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  function stopPlacing(message, status) {
    if (waiting) {
      waiting.map.off("click", waiting.handler);
      waiting.map.getContainer().classList.remove("tgd-placing");
      waiting = null;
    }
    if (message) { status.textContent = message; }
  }

  function send(fileId, place, latlng, status) {
    fetch("/api/console/fichiers/" + fileId + "/position", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ place: place, lat: latlng.lat, lon: latlng.lng })
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || T.error); }
        status.textContent = T.saved;
        root.dispatchEvent(new CustomEvent("tgd:refresh"));
      });
    }).catch(function (err) { status.textContent = err.message || T.error; });
  }

  root.addEventListener("tgd:fiche", function (event) {
    var d = event.detail.data, map = event.detail.map;
    var box = document.getElementById("fiche");
    stopPlacing(null, null);
    if (!box || !d.file || !d.file.places) { return; }
    var places = Object.keys(d.file.places);
    if (!places.length) { return; }
    var section = el("div", null, "tgd-places fr-mt-2w");
    section.id = "positions-adresses";
    section.appendChild(el("h3", T.title, "fr-h6"));
    var status = el("p", "", "fr-text--sm");
    status.setAttribute("role", "status");
    var list = el("ul");
    ["residence", "workplace"].forEach(function (place) {
      var info = d.file.places[place];
      if (!info) { return; }
      var li = el("li", null, "tgd-quality-" + (info.quality || info.status));
      li.dataset.place = place;
      li.appendChild(el("strong", T[place] + " : "));
      li.appendChild(el("span", info.text + (info.score !== null ? " (" + T.score + " " + info.score + ")" : "")));
      if (info.matched && info.quality !== "manual") {
        li.appendChild(el("span", " — " + T.matched + " : " + info.matched, "fr-text--sm"));
      }
      if (map) {
        var button = el("button", T.place, "fr-btn fr-btn--sm fr-btn--tertiary fr-ml-1w");
        button.type = "button";
        button.addEventListener("click", function () {
          stopPlacing(null, status);
          status.textContent = T.clickMap;
          var handler = function (e) { stopPlacing(null, status); send(d.file.id, place, e.latlng, status); };
          waiting = { map: map, handler: handler };
          map.getContainer().classList.add("tgd-placing");
          map.once("click", handler);
        });
        li.appendChild(button);
      }
      list.appendChild(li);
    });
    section.appendChild(list);
    section.appendChild(status);
    box.appendChild(section);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && waiting) {
      stopPlacing(T.cancelled, document.querySelector("#positions-adresses [role=status]"));
    }
  });
})();
