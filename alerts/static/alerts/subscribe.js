/* The subscribe form's small map: tap to choose the centre of the area, the circle follows the
   radius field. Settings and strings come from the json_script block "alerts-map-config"; the form
   works without this script (a district or a category). */
(function () {
  "use strict";
  var el = document.getElementById("alerts-map");
  var configEl = document.getElementById("alerts-map-config");
  if (!el || !configEl || !window.L) { return; }
  var config = JSON.parse(configEl.textContent);
  var lat = document.getElementById("id_lat");
  var lon = document.getElementById("id_lon");
  var radius = document.getElementById("id_radius_m");
  var status = document.getElementById("point-status");
  var clear = document.getElementById("point-clear");
  document.getElementById("alerts-form").classList.add("has-js");
  el.hidden = false;

  var map = L.map(el).setView(config.center, config.zoom || 12);
  if (config.tiles) {
    L.tileLayer(config.tiles, { maxZoom: 19, attribution: config.attribution || "" }).addTo(map);
  }
  var marker = null;
  var circle = null;

  function metres() {
    var value = parseInt(radius.value, 10);
    if (isNaN(value)) { return config.radiusMin; }
    return Math.min(config.radiusMax, Math.max(config.radiusMin, value));
  }

  function place(latlng) {
    lat.value = latlng.lat.toFixed(6);
    lon.value = latlng.lng.toFixed(6);
    if (!marker) {
      marker = L.marker(latlng, { keyboard: false }).addTo(map);
      circle = L.circle(latlng, { radius: metres(), weight: 2 }).addTo(map);
    } else {
      marker.setLatLng(latlng);
      circle.setLatLng(latlng);
    }
    status.textContent = config.strings.placed;
    clear.hidden = false;
  }

  function remove() {
    if (marker) { map.removeLayer(marker); map.removeLayer(circle); }
    marker = null;
    circle = null;
    lat.value = "";
    lon.value = "";
    status.textContent = config.strings.none;
    clear.hidden = true;
  }

  map.on("click", function (e) { place(e.latlng); });
  radius.addEventListener("input", function () { if (circle) { circle.setRadius(metres()); } });
  clear.addEventListener("click", remove);
  var startLat = parseFloat(lat.value);
  var startLon = parseFloat(lon.value);
  if (!isNaN(startLat) && !isNaN(startLon)) {
    place(L.latLng(startLat, startLon));
    map.setView([startLat, startLon], 15);
  } else {
    clear.hidden = true;
  }
})();
