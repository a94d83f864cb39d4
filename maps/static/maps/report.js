/* Report page: the map pin, "use my location", and the open reports of the same category nearby
   (each with a "me too" button). The form works without this script: it only fills the hidden
   lat/lon fields and offers the nearby list before sending. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var el = document.getElementById("report-map");
  if (!form || !el) { return; }
  var T = JSON.parse(document.getElementById("report-strings").textContent);
  var fa = document.documentElement.lang === "fa";
  var numbers = new Intl.NumberFormat(fa ? "fa-IR" : "en-GB", { maximumFractionDigits: 0 });
  var latInput = form.elements.lat;
  var lonInput = form.elements.lon;
  var placeInput = form.elements.place;
  var status = document.getElementById("pin-status");
  var clearButton = document.getElementById("pin-clear");
  var nearbyBox = document.getElementById("nearby");
  var nearbyList = nearbyBox.querySelector("ul");
  var csrf = form.elements.csrfmiddlewaretoken.value;
  document.getElementById("report-layout").classList.add("has-js");
  // A form sent back with errors: keyboard and screen-reader users start at the summary.
  var errorSummary = document.getElementById("form-errors");
  if (errorSummary) { errorSummary.focus(); }

  function say(text) { status.textContent = text; }
  function fmt(template, n) { return template.replace("{n}", numbers.format(n)); }
  function groupCode(code) { return code.replace(/(.{4})(?=.)/g, "$1-"); }
  function selectedCategory() { return form.querySelector("input[name=category]:checked"); }
  function locationOptional() {
    var r = selectedCategory();
    return !!r && r.dataset.locationRequired === "0";
  }
  function hasPin() { return latInput.value !== "" && lonInput.value !== ""; }

  // --- The map -----------------------------------------------------------------------------------
  var map = null;
  var marker = null;
  var nearbyLayer = null;
  var start = { lat: parseFloat(latInput.value), lon: parseFloat(lonInput.value) };
  var startPin = isFinite(start.lat) && isFinite(start.lon) && Math.abs(start.lat) <= 90 && Math.abs(start.lon) <= 180;
  if (window.L && window.Open137Map) {
    el.hidden = false;
    map = Open137Map.create(el, { keyboard: true });
    Open137Map.districts(map, el.dataset.districts, { fit: !startPin });
    nearbyLayer = L.layerGroup().addTo(map);
    map.on("click", function (e) { setPin(e.latlng); });
  }

  function setPin(latlng) {
    latlng = L.latLng(latlng).wrap();
    latInput.value = latlng.lat.toFixed(6);
    lonInput.value = latlng.lng.toFixed(6);
    if (map) {
      if (!marker) {
        marker = L.marker(latlng, { draggable: true, keyboard: true, title: T.pinPlaced, alt: T.pinPlaced }).addTo(map);
        marker.on("dragend", function () { setPin(marker.getLatLng()); });
      } else {
        marker.setLatLng(latlng);
      }
    }
    clearButton.hidden = false;
    say(T.pinPlaced);
    refreshNearby();
  }

  function clearPin() {
    latInput.value = "";
    lonInput.value = "";
    if (marker) { marker.remove(); marker = null; }
    clearButton.hidden = true;
    say(locationOptional() ? T.pinOptional : T.pinNone);
    refreshNearby();
  }

  if (startPin && window.L) {
    setPin(L.latLng(start.lat, start.lon));
    if (map) { map.setView([start.lat, start.lon], Math.max(map.getZoom(), 15)); }
  }
  clearButton.addEventListener("click", clearPin);

  document.getElementById("pin-center").addEventListener("click", function () {
    // For keyboard users: pan with the arrow keys, zoom with + and -, then put the pin here.
    if (map) { setPin(map.getCenter()); }
  });

  document.getElementById("locate-me").addEventListener("click", function () {
    if (!navigator.geolocation) { say(T.locateUnsupported); return; }
    say(T.locating);
    navigator.geolocation.getCurrentPosition(function (pos) {
      var here = L.latLng(pos.coords.latitude, pos.coords.longitude);
      setPin(here);
      if (map) { map.setView(here, Math.max(map.getZoom(), 16)); }
    }, function () { say(T.locateFailed); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  // --- The category decides whether the pin is required ----------------------------------------------
  function onCategory() {
    form.classList.toggle("location-optional", locationOptional());
    if (!hasPin()) { say(locationOptional() ? T.pinOptional : T.pinNone); }
    refreshNearby();
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=category]"), function (r) {
    r.addEventListener("change", onCategory);
  });
  if (!hasPin()) { say(locationOptional() ? T.pinOptional : T.pinNone); }

  // --- Open reports of the same category nearby ----------------------------------------------------
  var sequence = 0;
  var timer = null;
  function refreshNearby() {
    clearTimeout(timer);
    timer = setTimeout(loadNearby, 250);
  }

  function rowsOf(data) {
    if (Array.isArray(data)) { return data; }
    if (data && Array.isArray(data.results)) { return data.results; }
    if (data && Array.isArray(data.reports)) { return data.reports; }
    if (data && Array.isArray(data.features)) {
      return data.features.map(function (f) {
        var p = Object.assign({}, f.properties);
        p.code = p.code || p.tracking_code || f.id;
        if (f.geometry && f.geometry.coordinates) { p.lon = f.geometry.coordinates[0]; p.lat = f.geometry.coordinates[1]; }
        return p;
      });
    }
    return [];
  }

  function loadNearby() {
    var r = selectedCategory();
    var mine = ++sequence;
    if (nearbyLayer) { nearbyLayer.clearLayers(); }
    if (!r || !hasPin() || !window.fetch) { nearbyBox.hidden = true; return; }
    var url = el.dataset.nearby + "?" + new URLSearchParams({ lat: latInput.value, lon: lonInput.value, category: r.value });
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (resp) { return resp.ok ? resp.json() : Promise.reject(resp.status); })
      .then(function (data) { if (mine === sequence) { showNearby(rowsOf(data)); } })
      .catch(function () { if (mine === sequence) { showMessage(T.nearbyFailed); } });
  }

  function showMessage(text) {
    nearbyList.textContent = "";
    var li = document.createElement("li");
    li.className = "muted";
    li.textContent = text;
    nearbyList.appendChild(li);
    // Nothing to offer: the question "is it the same problem?" is not asked.
    nearbyBox.classList.add("empty");
    nearbyBox.hidden = false;
  }

  function showNearby(rows) {
    nearbyList.textContent = "";
    if (!rows.length) { showMessage(T.nearbyNone); return; }
    nearbyBox.classList.remove("empty");
    rows.forEach(function (row) {
      var code = row.code || row.tracking_code;
      if (!code) { return; }
      var li = document.createElement("li");
      var link = document.createElement("a");
      link.href = el.dataset.track.replace("CODE", encodeURIComponent(code));
      var bdi = document.createElement("bdi");
      bdi.dir = "ltr";
      bdi.textContent = groupCode(code);
      link.appendChild(bdi);
      li.appendChild(link);
      if (row.description) {
        var text = document.createElement("span");
        text.className = "muted";
        text.textContent = row.description.length > 80 ? row.description.slice(0, 79) + "…" : row.description;
        li.appendChild(text);
      }
      // Two spans rather than "a · b": a middle dot reads as a Persian zero (۰).
      var facts = document.createElement("span");
      facts.className = "muted facts-line";
      if (row.distance_m !== undefined && row.distance_m !== null) {
        var distance = document.createElement("span");
        distance.textContent = fmt(T.metres, Math.round(row.distance_m));
        facts.appendChild(distance);
      }
      var supporters = document.createElement("span");
      supporters.className = "supporters";
      supporters.textContent = fmt(T.supporters, row.support_count || 0);
      facts.appendChild(supporters);
      li.appendChild(facts);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button secondary me-too";
      button.textContent = T.meToo;
      button.setAttribute("aria-label", T.meToo + " " + groupCode(code));
      button.addEventListener("click", function () { support(code, button, facts, row); });
      li.appendChild(button);
      nearbyList.appendChild(li);
      if (nearbyLayer && isFinite(row.lat) && isFinite(row.lon)) {
        // The code comes from the API: a node with textContent, never a string Leaflet reads as HTML.
        var tip = document.createElement("bdi");
        tip.dir = "ltr";
        tip.textContent = groupCode(code);
        L.circleMarker([row.lat, row.lon], { radius: 7, color: "#c0392b", weight: 2, fillOpacity: 0.5 })
          .bindTooltip(tip).addTo(nearbyLayer);
      }
    });
    nearbyBox.hidden = false;
  }

  function support(code, button, facts, row) {
    button.disabled = true;
    fetch(el.dataset.support.replace("CODE", encodeURIComponent(code)), {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf }
    })
      .then(function (resp) { return resp.json().then(function (body) { return { ok: resp.ok, body: body }; }); })
      .then(function (result) {
        if (!result.ok) { throw new Error(result.body.error || ""); }
        row.support_count = result.body.support_count;
        facts.querySelector(".supporters").textContent = fmt(T.supporters, row.support_count);
        button.textContent = "✓ " + T.meToo;
        say(result.body.added ? T.meTooDone : T.meTooAgain);
      })
      .catch(function (err) {
        button.disabled = false;
        say(err && err.message ? err.message : T.meTooFailed);
      });
  }

  // --- Sending ------------------------------------------------------------------------------------
  var submit = document.getElementById("report-submit");
  form.addEventListener("submit", function (e) {
    var r = selectedCategory();
    // Caught here so that chosen photos are not lost to a round trip (a file input cannot be refilled).
    if (r && !locationOptional() && !hasPin() && !(placeInput && placeInput.value.trim())) {
      e.preventDefault();
      say(T.pinNone);
      (map ? el : placeInput).focus();
      return;
    }
    // The idempotency key already makes a second send harmless; this just says "sending".
    submit.disabled = true;
    setTimeout(function () { submit.disabled = false; }, 15000);
  });
  window.addEventListener("pageshow", function () { submit.disabled = false; });
  if (hasPin() || selectedCategory()) { refreshNearby(); }
})();
