/* Home page: the city's districts on a map, each named (with its code) on hover, and the open
   reports on them from the vector tiles, drawn by the public map's code (reportmap.js). The map
   set-up and the district layer are mapbase.js's, shared with the other pages. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L || !window.Open137Map) { return; }
  var map = Open137Map.create(el);
  Open137Map.districts(map, el.dataset.districts, { tooltips: true, codes: true, fit: true });
  var configEl = document.getElementById("report-map-config");
  if (!configEl || !window.Open137ReportMap || !L.vectorGrid) { return; }
  var config = JSON.parse(configEl.textContent);
  var colours = {};
  (config.categories || []).forEach(function (c) { colours[c.code] = c.colour; });
  // Above the district outlines (whose fill takes the pointer), so a report can be selected.
  map.createPane("open137-reports").style.zIndex = 450;
  Open137ReportMap.reportLayer(map, {
    template: config.tiles,
    track: config.track,
    colours: colours,
    lang: config.language,
    filters: { status: "open" },
    pane: "open137-reports",
    detailZoom: config.detailZoom
  }).addTo(map);
})();
