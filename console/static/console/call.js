/* The 137 call screen: the caller's earlier reports as their number is typed, the place search
   that moves the map, the pin, and "no location". Everything the server sends (place names,
   report texts) is put in as text, never as HTML. Without this script the form still works: the
   typed place is matched on the server and the best match gives the point. */
(function () {
  "use strict";
  var form = document.getElementById("call-form");
  if (!form || !window.fetch) { return; }
  var strings = JSON.parse(document.getElementById("call-strings").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var lat = form.elements.lat, lon = form.elements.lon;
  var place = form.elements.place, address = form.elements.address;
  var noLocation = form.elements.no_location, category = form.elements.category;
  var pinStatus = $("pin-status");

  function localDigits(text) {
    if (document.documentElement.lang !== "fa") { return text; }
    return text.replace(/[0-9]/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[+d]; });
  }

  function latLng(a, b) { return window.L ? L.latLng(a, b) : { lat: a, lng: b }; }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  /* --- the map and the pin --------------------------------------------------------------------- */
  var mapEl = $("call-map");
  var map = null, marker = null;
  if (mapEl && window.L && window.Open137Map) {
    mapEl.hidden = false;
    map = Open137Map.create(mapEl, { keyboard: true });
    Open137Map.districts(map, mapEl.dataset.districts, { tooltips: true });
    map.on("click", function (e) { setPin(e.latlng, strings.pinPlaced); });
  }

  function setPin(latlng, message) {
    lat.value = latlng.lat.toFixed(6);
    lon.value = latlng.lng.toFixed(6);
    if (noLocation) { noLocation.checked = false; }
    if (map) {
      if (!marker) {
        marker = L.marker(latlng, { draggable: true, keyboard: true }).addTo(map);
        marker.on("dragend", function () { setPin(marker.getLatLng(), strings.pinPlaced); });
      } else {
        marker.setLatLng(latlng);
      }
    }
    pinStatus.textContent = message;
  }

  function clearPin(message) {
    lat.value = "";
    lon.value = "";
    if (marker && map) { map.removeLayer(marker); marker = null; }
    pinStatus.textContent = message;
  }

  if (lat.value && lon.value) {
    var kept = latLng(parseFloat(lat.value), parseFloat(lon.value));
    setPin(kept, strings.pinPlaced);
    if (map) { map.setView(kept, 16); }
  } else {
    pinStatus.textContent = strings.pinNone;
  }

  if (noLocation) {
    noLocation.addEventListener("change", function () {
      if (noLocation.checked) { clearPin(strings.noLocation); } else { pinStatus.textContent = strings.pinNone; }
    });
  }

  /* --- the category: is a location needed? ----------------------------------------------------- */
  function categoryChanged() {
    var option = category.options[category.selectedIndex];
    var hint = $("location-hint");
    if (!option || !option.value) { hint.textContent = ""; return; }
    hint.textContent = option.dataset.locationRequired === "0" ? strings.locationOptional : strings.locationRequired;
  }
  category.addEventListener("change", categoryChanged);
  categoryChanged();

  /* --- the place search ------------------------------------------------------------------------ */
  var results = $("place-results"), placeStatus = $("place-status");
  var found = [];

  function choose(item) {
    results.hidden = true;
    place.setAttribute("aria-expanded", "false");
    place.value = item.name;
    if (!address.value) { address.value = item.name_fa; }
    var latlng = latLng(item.lat, item.lon);
    if (map) { map.setView(latlng, item.source === "district" ? 15 : 17); }
    setPin(latlng, strings.pinAtPlace.replace("{name}", item.name));
  }

  function showPlaces(items) {
    found = items;
    results.textContent = "";
    items.forEach(function (item) {
      var li = el("li");
      li.setAttribute("role", "option");
      var button = el("button");
      button.type = "button";
      button.appendChild(el("span", "name", item.name));
      button.appendChild(el("span", "kind", item.kind_label));
      button.addEventListener("click", function () { choose(item); });
      li.appendChild(button);
      results.appendChild(li);
    });
    results.hidden = !items.length;
    place.setAttribute("aria-expanded", items.length ? "true" : "false");
    placeStatus.textContent = items.length ? "" : strings.placesNone;
  }

  var searchPlaces = debounce(function (text) {
    if (!text.trim()) { showPlaces([]); placeStatus.textContent = ""; return; }
    getJSON(form.dataset.places + "?q=" + encodeURIComponent(text))
      .then(function (data) { if (place.value === text) { showPlaces(data.results || []); } })
      .catch(function () { placeStatus.textContent = strings.placesFailed; });
  }, 250);
  place.addEventListener("input", function () { searchPlaces(place.value); });
  place.addEventListener("keydown", function (e) {
    // Enter takes the best match instead of sending the form; Down goes into the list.
    if (e.key === "Enter" && found.length && !results.hidden) { e.preventDefault(); choose(found[0]); }
    if (e.key === "ArrowDown" && !results.hidden) {
      var first = results.querySelector("button");
      if (first) { e.preventDefault(); first.focus(); }
    }
  });

  /* --- the caller's earlier reports ------------------------------------------------------------ */
  var phone = form.elements.reporter_phone;
  var section = $("caller-reports"), list = $("caller-list"), summary = $("caller-summary");

  function showReports(reports) {
    list.textContent = "";
    reports.forEach(function (r) {
      var li = el("li");
      var link = el("a");
      link.href = r.url;
      var code = el("bdi", null, r.code.replace(/(.{4})(?=.)/g, "$1-"));
      code.dir = "ltr";
      link.appendChild(code);
      li.appendChild(link);
      li.appendChild(el("span", "status status-" + r.status, r.status_label));
      li.appendChild(el("time", null, r.created));
      li.appendChild(el("span", null, r.category));
      if (r.address) { li.appendChild(el("span", "muted", r.address)); }
      if (r.snippet) { li.appendChild(el("span", "muted snippet", r.snippet)); }
      list.appendChild(li);
    });
    summary.textContent = reports.length
      ? strings.callerCount.replace("{n}", localDigits(String(reports.length)))
      : strings.callerNone;
    section.hidden = false;
  }

  var lookUp = debounce(function (number) {
    var digits = number.replace(/[^0-9۰-۹٠-٩]/g, "");
    if (digits.length < 7) { section.hidden = true; return; }
    getJSON(form.dataset.caller + "?phone=" + encodeURIComponent(number))
      .then(function (data) { if (phone.value === number) { showReports(data.reports || []); } })
      .catch(function () { summary.textContent = strings.callerFailed; section.hidden = false; });
  }, 400);
  phone.addEventListener("input", function () { lookUp(phone.value); });
})();
