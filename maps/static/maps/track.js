/* Tracking page: a small map with the report's point (and the district outlines, so the point has
   a context even when base tiles do not load). */
(function () {
  "use strict";
  var el = document.getElementById("track-map");
  if (!el || !window.L || !window.Open137Map) { return; }
  el.hidden = false;
  var map = Open137Map.create(el, { scrollWheelZoom: false });
  var point = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
  L.marker(point, { keyboard: false, interactive: false }).addTo(map);
  Open137Map.districts(map, el.dataset.districts, { fit: false, tooltips: true });
})();
