/* Shared map set-up for the citizen's pages: the city view, optional base tiles, district outlines.
   Base tiles come from a configurable URL and may be missing or unreachable: the outlines are drawn
   from the app's own API, so the map still shows the city on a plain background.

   District names come from imported GIS files (OSM tags, a city's shapefile): they are data, never
   markup. Leaflet puts a string given to bindTooltip/bindPopup in as HTML, so labels are built as
   DOM nodes with textContent and handed to Leaflet as elements. */
(function () {
  "use strict";
  var colours = { 0: "#5f6368", 1: "#0b6e4f", 2: "#c07a00" };

  function create(el, options) {
    var d = el.dataset;
    var center = [parseFloat(d.centerLat) || 36.269, parseFloat(d.centerLon) || 50.004];
    var map = L.map(el, options || {}).setView(center, parseInt(d.zoom, 10) || 12);
    if (d.tiles) {
      // The attribution is the operator's setting (it may hold a link), not imported data.
      L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution || "" }).addTo(map);
    }
    return map;
  }

  // A text-only label: an element whose content is set with textContent, so "<img onerror=...>" in a
  // name shows as those characters. `extra`, when given, follows in parentheses, left to right.
  function textLabel(text, extra) {
    var span = document.createElement("span");
    span.textContent = text || "";
    if (extra) {
      span.appendChild(document.createTextNode(" ("));
      var bdi = document.createElement("bdi");
      bdi.dir = "ltr";
      bdi.textContent = extra;
      span.appendChild(bdi);
      span.appendChild(document.createTextNode(")"));
    }
    return span;
  }

  function districtName(p) {
    var rtl = document.documentElement.dir === "rtl";
    return rtl ? (p.name_fa || p.name_en) : (p.name_en || p.name_fa);
  }

  /* The active districts' outlines. options: tooltips (name on hover), codes (the code after the
     name), fit (fit the map to the regions). Resolves to the layer, or null without data. */
  function districts(map, url, options) {
    options = options || {};
    if (!url || !window.fetch) { return Promise.resolve(null); }
    return fetch(url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc || !fc.features) { return null; }
        var layer = L.geoJSON(fc, {
          interactive: !!options.tooltips,
          style: function (f) {
            var level = f.properties.level;
            return { color: colours[level] || "#333", weight: level === 0 ? 1 : 2,
                     fillOpacity: level === 0 ? 0 : 0.06, dashArray: level === 0 ? "4 4" : null };
          },
          onEachFeature: function (f, l) {
            if (!options.tooltips) { return; }
            var p = f.properties || {};
            l.bindTooltip(textLabel(districtName(p), options.codes ? p.code : ""));
          }
        }).addTo(map);
        layer.bringToBack();
        var regions = fc.features.filter(function (f) { return f.properties.level > 0; });
        if (options.fit && regions.length) {
          map.fitBounds(L.geoJSON({ type: "FeatureCollection", features: regions }).getBounds());
        }
        return layer;
      })
      .catch(function () { return null; });
  }

  window.Open137Map = { create: create, districts: districts };
})();
