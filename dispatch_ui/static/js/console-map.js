/* TGD console, the map: a street base map when the configuration names a tile
 * server ([map] tile_url; a plain background offline), the zones of competence with the
 * proposed unit's zone highlighted, the positions with their accuracy circles, and named
 * markers for the home and the workplace. The legend is in the page (#legende).
 *
 * Other modules may add layers: TGDConsole.on("map", function (m) { m.map, m.L … }).
 */
(function () {
  "use strict";
  var C = window.TGDConsole;
  if (!C || !window.L || !document.getElementById("carte")) { return; }
  var L = window.L;
  var map = null, zonesLayer = null, pointsLayer = null, zonesReady = null;
  var ZONE_STYLE = {
    police: { color: "#000091", weight: 1, fillOpacity: 0.06 },
    gendarmerie: { color: "#18753c", weight: 1, fillOpacity: 0.06 }
  };
  var COMPETENT = { color: "#ce0500", weight: 3, fillOpacity: 0.18 };

  function init() {
    var config = C.config;
    map = L.map("carte", { zoomControl: true, attributionControl: true, keyboard: true });
    map.attributionControl.setPrefix(false);
    if (config.tileUrl) {
      var tiles = L.tileLayer(config.tileUrl, { attribution: config.tileAttribution || "", maxZoom: 19 });
      tiles.addTo(map);
      document.getElementById("carte").dataset.tiles = "on";
    } else {
      document.getElementById("carte").dataset.tiles = "off";
    }
    map.setView([46.6, 2.4], 5);
    if (window.TGDCoverage) { window.TGDCoverage.attach(map); }  /* coverage.js (issue 15) */
    pointsLayer = L.layerGroup().addTo(map);
    zonesReady = C.api("GET", "/api/console/zones").then(function (geojson) {
      zonesLayer = L.geoJSON(geojson, {
        style: function (feature) { return ZONE_STYLE[feature.properties.kind] || ZONE_STYLE.police; },
        onEachFeature: function (feature, layer) { layer.bindTooltip(feature.properties.name); }
      }).addTo(map);
      zonesLayer.bringToBack();
      return zonesLayer;
    }).catch(function () { return null; });
    C.fire("map", { map: map, L: L, points: pointsLayer });
  }

  function labelled(latlng, letter, cls, name) {
    var icon = L.divIcon({ className: "tgd-marker " + cls, html: "", iconSize: [22, 22], iconAnchor: [11, 11] });
    var marker = L.marker(latlng, { icon: icon, keyboard: false, title: name, alt: name });
    marker.on("add", function () {
      var node = marker.getElement();
      if (node) { node.textContent = letter; node.setAttribute("aria-hidden", "true"); }
    });
    marker.bindTooltip(name, { permanent: true, direction: "right", offset: [12, 0], className: "tgd-marker-label" });
    return marker;
  }

  function highlight(unitId) {
    if (!zonesLayer) { return; }
    zonesLayer.eachLayer(function (layer) {
      var props = layer.feature.properties;
      var competent = unitId && props.unit_id === unitId;
      layer.setStyle(competent ? COMPETENT : (ZONE_STYLE[props.kind] || ZONE_STYLE.police));
      if (competent) { layer.bringToFront(); }
    });
    document.getElementById("carte").dataset.competentUnit = unitId ? String(unitId) : "";
  }

  function render(d) {
    if (!map) { return; }
    /* Unbind first: a permanent tooltip removed with its marker during a zoom animation
       can linger on the map, and the next render would show the label twice. */
    pointsLayer.eachLayer(function (layer) { if (layer.unbindTooltip) { layer.unbindTooltip(); } });
    pointsLayer.clearLayers();
    if (!d) { highlight(null); return; }
    var T = C.T, bounds = [];
    d.positions.slice(0, 5).forEach(function (p, i) {
      var ll = [p.lat, p.lon];
      bounds.push(ll);
      if (p.accuracy) {
        L.circle(ll, { radius: p.accuracy, color: "#ce0500", weight: 1, fillOpacity: i === 0 ? 0.15 : 0.05 }).addTo(pointsLayer);
      }
      var marker = L.circleMarker(ll, i === 0
        ? { radius: 8, color: "#fff", weight: 3, fillColor: "#ce0500", fillOpacity: 1 }
        : { radius: 4, color: "#ce0500", weight: 2, fillColor: "#f4bfbf", fillOpacity: 1 });
      marker.addTo(pointsLayer).bindTooltip((i === 0 ? T.latest + " — " : "") + p.at +
        (p.accuracy ? " (" + T.accuracy + " " + p.accuracy + " m)" : ""));
    });
    if (d.file && d.file.residence_coords) {
      bounds.push(d.file.residence_coords);
      labelled(d.file.residence_coords, "D", "tgd-marker--home", T.home).addTo(pointsLayer);
    }
    if (d.file && d.file.workplace_coords) {
      bounds.push(d.file.workplace_coords);
      labelled(d.file.workplace_coords, "T", "tgd-marker--work", T.work).addTo(pointsLayer);
    }
    if (d.proposal.point) { bounds.push(d.proposal.point); }
    (zonesReady || Promise.resolve()).then(function () { highlight(d.proposal.unit_id); });
    if (bounds.length) { map.fitBounds(bounds, { maxZoom: 15, padding: [30, 30] }); }
    /* Modules outside TGDConsole (geocode.js) add to the file on screen and its map. */
    document.getElementById("console").dispatchEvent(
      new CustomEvent("tgd:fiche", { detail: { data: d, map: map } })
    );
  }

  C.on("ready", init);
  C.on("detail", render);
  window.addEventListener("resize", function () { if (map) { map.invalidateSize(); } });
})();
