/* Home page: the city's districts on a map, each named (with its code) on hover. The map set-up and
   the district layer are mapbase.js's, shared with the other pages. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L || !window.Open137Map) { return; }
  var map = Open137Map.create(el);
  Open137Map.districts(map, el.dataset.districts, { tooltips: true, codes: true, fit: true });
})();
