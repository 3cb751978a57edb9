/* TGD console: the carrier's network coverage on the map (issue 15, "zones blanches").
 *
 * A small module of its own: the console's map calls window.TGDCoverage.attach(map)
 * once it exists; this fetches the coverage in force (simplified GeoJSON) and draws it
 * as a light, non-interactive layer under the zones, with its name in the layers control.
 * The text of the alert's coverage warnings comes with the alert (server side).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var label = (script && script.dataset.label) || "Couverture";

  function attach(map) {
    if (!map || !window.L) { return; }
    fetch("/api/console/coverage", { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (geojson) {
        if (!geojson || !geojson.features || !geojson.features.length) { return; }
        var layer = window.L.geoJSON(geojson, {
          interactive: false,
          style: function () { return { color: "#7f7f7f", weight: 0.5, fillColor: "#b6cfa8", fillOpacity: 0.15 }; }
        }).addTo(map);
        layer.bringToBack();
        var overlays = {};
        overlays[label] = layer;
        window.L.control.layers(null, overlays, { collapsed: true }).addTo(map);
      })
      .catch(function () { /* no coverage layer: the map still works */ });
  }

  window.TGDCoverage = { attach: attach };
})();
