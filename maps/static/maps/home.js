(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) { return; }
  var map = L.map(el).setView([36.269, 50.004], 12);
  // Base tiles are optional: without them the district outlines still show on a plain background.
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution }).addTo(map);
  }
  var rtl = document.documentElement.dir === "rtl";
  var colours = { 0: "#555", 1: "#0b6e4f", 2: "#c07a00" };
  fetch(el.dataset.districts).then(function (r) { return r.json(); }).then(function (fc) {
    var layer = L.geoJSON(fc, {
      style: function (f) {
        var level = f.properties.level;
        return { color: colours[level] || "#333", weight: level === 0 ? 1 : 2, fillOpacity: level === 0 ? 0 : 0.08,
                 dashArray: level === 0 ? "4 4" : null };
      },
      onEachFeature: function (f, l) {
        var p = f.properties;
        l.bindTooltip((rtl ? p.name_fa : (p.name_en || p.name_fa)) + " (" + p.code + ")");
      }
    }).addTo(map);
    var regions = fc.features.filter(function (f) { return f.properties.level > 0; });
    if (regions.length) { map.fitBounds(L.geoJSON({ type: "FeatureCollection", features: regions }).getBounds()); }
  });
})();
