/* The council dashboard's maps: a choropleth of the chosen district measure (polygons from
   /api/districts/, numbers from the page's json_script), and the heatmap (/api/heatmap/) with the
   hotspots (/api/hotspots/) for the page's filters. Names are data: set with textContent only. */
(function () {
  "use strict";
  var configEl = document.getElementById("council-config");
  if (!configEl || !window.L) { return; }
  var config = JSON.parse(configEl.textContent);
  var rtl = document.documentElement.dir === "rtl";
  var ramp = ["#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d"];
  var center = [36.269, 50.004];

  function digits(text) {
    return rtl ? String(text).replace(/[0-9]/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[d]; }) : String(text);
  }
  function name(p) { return rtl ? (p.name_fa || p.name_en) : (p.name_en || p.name_fa); }
  function query(extra) {
    var q = new URLSearchParams(extra || {});
    ["category", "since", "until", "district"].forEach(function (k) { if (config[k]) { q.set(k, config[k]); } });
    return q.toString();
  }
  function label(text) { var s = document.createElement("span"); s.textContent = text; return s; }

  var byCode = {};
  (config.rows || []).forEach(function (r) { if (r.code) { byCode[r.code] = r; } });

  // --- choropleth ---
  var choroplethEl = document.getElementById("choropleth");
  var measureEl = document.getElementById("measure");
  var legendEl = document.getElementById("choropleth-legend");
  var choropleth = L.map(choroplethEl).setView(center, 11);
  var districtLayer = null;
  function breaks(values) {
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    var out = [];
    for (var i = 1; i < ramp.length; i++) { out.push(sorted[Math.floor(i * sorted.length / ramp.length)]); }
    return out;
  }
  function colour(value, cuts) {
    if (value === null || value === undefined) { return "#cccccc"; }
    var i = 0;
    while (i < cuts.length && value >= cuts[i]) { i++; }
    return ramp[i];
  }
  function paint() {
    if (!districtLayer) { return; }
    var measure = measureEl.value;
    var values = Object.keys(byCode).map(function (c) { return byCode[c][measure]; })
      .filter(function (v) { return v !== null && v !== undefined; });
    var cuts = breaks(values);
    districtLayer.setStyle(function (f) {
      var row = byCode[f.properties.code];
      return { color: "#333", weight: 1, fillOpacity: 0.7, fillColor: colour(row ? row[measure] : null, cuts) };
    });
    legendEl.textContent = "";
    var title = document.createElement("strong");
    title.textContent = measureEl.options[measureEl.selectedIndex].text;
    legendEl.appendChild(title);
    var list = document.createElement("ul");
    var lows = [values.length ? Math.min.apply(null, values) : null].concat(cuts);
    ramp.forEach(function (c, i) {
      if (lows[i] === null || lows[i] === undefined) { return; }
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch"; sw.style.background = c; sw.setAttribute("aria-hidden", "true");
      li.appendChild(sw);
      li.appendChild(document.createTextNode(" ≥ " + digits(Math.round(lows[i] * 100) / 100)));
      list.appendChild(li);
    });
    legendEl.appendChild(list);
  }
  fetch(config.districts, { headers: { Accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (fc) {
      if (!fc || !fc.features) { return; }
      var features = fc.features.filter(function (f) {
        return !config.own_districts || byCode[f.properties.code] || config.own_districts.indexOf(f.properties.code) >= 0;
      });
      if (!features.length) { return; }
      districtLayer = L.geoJSON({ type: "FeatureCollection", features: features }, {
        onEachFeature: function (f, layer) {
          var row = byCode[f.properties.code];
          layer.bindTooltip(function () {
            var m = measureEl.value;
            var v = row && row[m] !== null && row[m] !== undefined ? digits(row[m]) : "–";
            return label(name(f.properties) + ": " + v);
          });
        }
      }).addTo(choropleth);
      choropleth.fitBounds(districtLayer.getBounds());
      paint();
    })
    .catch(function () { return null; });
  measureEl.addEventListener("change", paint);

  // --- heatmap and hotspots ---
  var heat = L.map(document.getElementById("heatmap")).setView(center, 11);
  var cells = null;
  var spots = null;
  function drawHeat() {
    var b = heat.getBounds();
    var q = query({ zoom: Math.max(0, Math.min(18, heat.getZoom())),
                    bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(5); }).join(","),
                    status: "open,closed" });
    fetch(config.heatmap + "?" + q).then(function (r) { return r.ok ? r.json() : null; }).then(function (fc) {
      if (cells) { heat.removeLayer(cells); cells = null; }
      if (!fc || !fc.features) { return; }
      var max = 1;
      fc.features.forEach(function (f) { max = Math.max(max, f.properties.count); });
      cells = L.geoJSON(fc, { interactive: false, style: function (f) {
        var t = Math.sqrt(f.properties.count / max);
        return { stroke: false, fillColor: "#d7301f", fillOpacity: 0.15 + 0.6 * t };
      } }).addTo(heat);
      if (spots) { spots.bringToFront(); }
    }).catch(function () { return null; });
  }
  if (config.hotspots) {
    fetch(config.hotspots + "?" + query()).then(function (r) { return r.ok ? r.json() : null; }).then(function (fc) {
      if (!fc || !fc.features) { return; }
      spots = L.geoJSON(fc, { pointToLayer: function (f, ll) {
        return L.circleMarker(ll, { radius: 6 + Math.min(12, f.properties.count), color: "#54278f", weight: 2, fillOpacity: 0.3 });
      }, onEachFeature: function (f, layer) {
        layer.bindTooltip(label(f.properties.category + ": " + digits(f.properties.count)));
      } }).addTo(heat);
    }).catch(function () { return null; });
  }
  heat.on("moveend", drawHeat);
  drawHeat();
})();
