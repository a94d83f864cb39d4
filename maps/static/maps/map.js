/* The public map (/map/): the reports from vector tiles (reportmap.js), the filters of the form
   applied at once, district outlines, the heatmap, participation points, hotspots (maphotspots.js),
   and the list of the reports in view (the keyboard and screen-reader path to the same reports),
   with a live summary.

   Everything comes from the page's `map-config` JSON block (maps/views_map.py) and the public
   endpoints. Text from the data (categories' names, descriptions, points' names) is set with
   textContent, never as markup. */
(function () {
  "use strict";
  var configEl = document.getElementById("map-config");
  var el = document.getElementById("public-map");
  if (!configEl || !el || !window.L || !window.Open137ReportMap) { return; }
  var config = JSON.parse(configEl.textContent);
  var strings = config.strings || {};
  var lang = config.language || "fa";
  var RM = window.Open137ReportMap;
  var form = document.getElementById("map-filters");
  var summary = document.getElementById("map-summary");
  var list = document.getElementById("map-reports");
  var more = document.getElementById("map-more");
  var heatNote = document.getElementById("map-heat-note");
  var HEAT_COLOURS = ["#fff3b0", "#fdc25c", "#f98c3a", "#e2481f", "#a50026"];

  function fmt(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (_m, key) {
      return values[key] !== undefined ? String(values[key]) : "";
    });
  }
  function num(n) { return RM.numberText(n, lang); }

  var colours = {};
  var categoryNames = {};
  (config.categories || []).forEach(function (c) {
    colours[c.code] = c.colour;
    categoryNames[c.code] = c.name;
  });

  // --- The map ------------------------------------------------------------------------------------
  var map = L.map(el, { zoomControl: true });
  map.createPane("open137-heat").style.zIndex = 410;
  // Under the reports, so a single report inside a hotspot's circle can still be selected.
  map.createPane("open137-hotspots").style.zIndex = 440;
  map.createPane("open137-reports").style.zIndex = 450;
  map.createPane("open137-points").style.zIndex = 460;
  if (config.view) {
    map.setView([config.view[0], config.view[1]], config.view[2]);
  } else {
    map.setView(config.center, config.zoom);
  }
  if (config.baseTiles) {
    L.tileLayer(config.baseTiles, { maxZoom: 19, attribution: config.attribution || "" }).addTo(map);
  }
  // The first tile with reports drawn: the bench's mark (bench/measures/map_page.py).
  map.on("open137:drawn", function (e) {
    if (e.features > 0 && !el.hasAttribute("data-first-tiles-ms")) {
      el.setAttribute("data-first-tiles-ms", String(Math.round(performance.now())));
    }
  });

  // --- Filters ------------------------------------------------------------------------------------
  function cityDate(daysBack) {
    var d = new Date(Date.now() - daysBack * 86400000);
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone: config.timeZone || "Asia/Tehran" }).format(d);
    } catch (e) {
      return d.toISOString().slice(0, 10);
    }
  }

  function readState() {
    var categories = [];
    form.querySelectorAll("input[name=category]").forEach(function (box) {
      if (box.checked) { categories.push(box.value); }
    });
    var since = form.elements.since.value.trim();
    var until = form.elements.until.value.trim();
    var windowValue = form.elements.window.value;
    var sinceEffective = since || until ? since : (windowValue === "all" ? "" : cityDate(parseInt(windowValue, 10)));
    return {
      categories: categories,
      status: form.elements.status.value,
      window: windowValue,
      since: since,
      until: until,
      sinceEffective: sinceEffective
    };
  }

  // The endpoints' filters. Every category chosen: no category filter (the shorter URL, the same set).
  function filtersOf(state) {
    var all = state.categories.length === (config.categories || []).length;
    return {
      status: config.statusParams[state.status] || "open",
      category: all ? "" : state.categories.join(","),
      since: state.sinceEffective,
      until: state.until
    };
  }

  function keepAddress(state) {
    if (!window.history || !history.replaceState) { return; }
    var params = new URLSearchParams();
    if (state.categories.length !== (config.categories || []).length) {
      state.categories.forEach(function (c) { params.append("category", c); });
    }
    if (state.status !== "open") { params.set("status", state.status); }
    if (state.window !== "all") { params.set("window", state.window); }
    if (state.since) { params.set("since", state.since); }
    if (state.until) { params.set("until", state.until); }
    var c = map.getCenter();
    params.set("lat", c.lat.toFixed(5));
    params.set("lon", c.lng.toFixed(5));
    params.set("zoom", String(map.getZoom()));
    history.replaceState(null, "", "?" + params.toString());
  }

  var state = readState();
  var reports = RM.reportLayer(map, {
    template: config.tiles,
    track: config.track,
    colours: colours,
    lang: lang,
    filters: filtersOf(state),
    pane: "open137-reports",
    detailZoom: config.detailZoom
  });
  if (state.categories.length) { reports.addTo(map); }

  // The map's first picture, its report tiles, goes first: what else the page asks the server for
  // (district outlines, salt bins, the list of what is in view) waits for the visible tiles, or
  // 2 s, so that it does not queue before them for the server's workers.
  var firstTilesWaiting = [];
  var firstTilesDone = false;
  function afterFirstTiles(fn) {
    if (firstTilesDone) { fn(); } else { firstTilesWaiting.push(fn); }
  }
  function firstTilesLoaded() {
    if (firstTilesDone) { return; }
    firstTilesDone = true;
    firstTilesWaiting.splice(0).forEach(function (fn) { fn(); });
  }
  if (map.hasLayer(reports)) {
    reports.once("load", firstTilesLoaded);
    setTimeout(firstTilesLoaded, 2000);
  } else {
    setTimeout(firstTilesLoaded, 0);
  }

  // --- District outlines --------------------------------------------------------------------------
  var districtsBox = document.getElementById("map-layer-districts");
  var districtLayer = null;
  if (window.Open137Map) {
    afterFirstTiles(function () {
      Open137Map.districts(map, config.districts, { tooltips: true, codes: true, fit: false }).then(function (layer) {
        districtLayer = layer;
        if (layer && !districtsBox.checked) { map.removeLayer(layer); }
        if (layer) { el.setAttribute("data-districts-drawn", "1"); }
      });
    });
  }
  districtsBox.addEventListener("change", function () {
    if (!districtLayer) { return; }
    if (districtsBox.checked) { districtLayer.addTo(map); districtLayer.bringToBack(); } else { map.removeLayer(districtLayer); }
  });

  // --- The list of the reports in view --------------------------------------------------------------
  var listRequest = 0;

  function viewBox() {
    var b = map.getBounds();
    var clamp = function (v, lim) { return Math.max(-lim, Math.min(lim, v)); };
    return [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)]
      .map(function (v) { return v.toFixed(6); }).join(",");
  }

  function dateText(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    try {
      return new Intl.DateTimeFormat(lang === "fa" ? "fa-IR-u-ca-persian" : "en-GB",
        { year: "numeric", month: "long", day: "numeric", timeZone: config.timeZone || "Asia/Tehran" }).format(d);
    } catch (e) {
      return iso.slice(0, 10);
    }
  }

  function codeText(code) {
    return code && code.length === 8 ? code.slice(0, 4) + "-" + code.slice(4) : (code || "");
  }

  function listItem(feature) {
    var p = feature.properties || {};
    var li = document.createElement("li");
    li.className = "map-report-item";
    var a = document.createElement("a");
    a.href = config.track.replace("{code}", encodeURIComponent(p.code || feature.id || ""));
    var swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.setAttribute("aria-hidden", "true");
    swatch.style.background = colours[p.category] || "#444444";
    a.appendChild(swatch);
    var name = document.createElement("span");
    name.className = "map-report-category";
    name.textContent = (lang === "fa" ? p.category_name_fa || p.category_name_en : p.category_name_en || p.category_name_fa)
      || categoryNames[p.category] || p.category || "";
    a.appendChild(name);
    a.appendChild(document.createTextNode(" "));
    var code = document.createElement("bdi");
    code.dir = "ltr";
    code.className = "map-report-code";
    code.textContent = codeText(p.code || feature.id);
    a.appendChild(code);
    li.appendChild(a);
    if (p.generated) {
      var tag = document.createElement("span");
      tag.className = "tag generated";
      tag.title = strings.generatedTitle || "";
      tag.textContent = strings.generated || "generated";
      li.appendChild(document.createTextNode(" "));
      li.appendChild(tag);
    }
    var meta = document.createElement("p");
    meta.className = "map-report-meta";
    meta.textContent = [config.statusLabels[p.status] || p.status, dateText(p.created_at)]
      .filter(Boolean).join(" · ");
    li.appendChild(meta);
    if (p.description) {
      var text = document.createElement("p");
      text.className = "map-report-text";
      text.textContent = p.description.length > 120 ? p.description.slice(0, 119) + "…" : p.description;
      li.appendChild(text);
    }
    return li;
  }

  function showPage(page, append) {
    if (!append) { list.textContent = ""; }
    (page.features || []).forEach(function (f) { list.appendChild(listItem(f)); });
    var shown = list.children.length;
    var total = typeof page.count === "number" ? page.count : shown;
    // The API counts up to a cap (10,000) and says when there are more: "10,000+", not "of 10,000".
    // Past the cap with every report listed (no next page), the list itself is the exact count.
    var capped = page.count_capped === true && !!page.next;
    if (page.count_capped === true && !page.next) { total = shown; }
    var totalText = capped ? num(total) + "+" : num(total);
    if (!total) {
      summary.textContent = strings.summaryNone;
    } else if (shown < total || capped) {
      summary.textContent = fmt(strings.summaryShown, { n: totalText, shown: num(shown) });
    } else {
      summary.textContent = fmt(strings.summary, { n: totalText });
    }
    more.hidden = !page.next;
    more.dataset.next = page.next || "";
  }

  function fetchJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { var err = new Error("HTTP " + r.status); err.status = r.status; throw err; }
      return r.json();
    });
  }

  function sameOrigin(url) {
    try { return new URL(url, window.location.href).origin === window.location.origin; } catch (e) { return false; }
  }

  function refreshList() {
    var mine = ++listRequest;
    if (!state.categories.length) {
      list.textContent = "";
      more.hidden = true;
      summary.textContent = strings.summaryNoCategory;
      return;
    }
    summary.textContent = strings.summaryLoading;
    var filters = filtersOf(state);
    filters.bbox = viewBox();
    filters.page_size = config.pageSize;
    fetchJson(config.reports + "?" + RM.filterQuery(filters)).then(function (page) {
      if (mine !== listRequest) { return; }
      showPage(page, false);
    }).catch(function () {
      if (mine !== listRequest) { return; }
      list.textContent = "";
      more.hidden = true;
      summary.textContent = strings.summaryFailed;
    });
  }

  more.addEventListener("click", function () {
    var next = more.dataset.next;
    if (!next || !sameOrigin(next)) { return; }
    var mine = listRequest;
    more.disabled = true;
    fetchJson(next).then(function (page) {
      if (mine === listRequest) { showPage(page, true); }
    }).catch(function () {
      summary.textContent = strings.summaryFailed;
    }).then(function () { more.disabled = false; });
  });

  // --- Heatmap -------------------------------------------------------------------------------------
  var heatBox = document.getElementById("map-layer-heatmap");
  var heatLegend = document.getElementById("map-legend-heat");
  var heatMax = document.getElementById("map-legend-heat-max");
  var heatLayer = L.geoJSON(null, { pane: "open137-heat", interactive: false });
  var heatRequest = 0;

  function heatColour(count, max) {
    var i = Math.min(HEAT_COLOURS.length - 1, Math.floor(HEAT_COLOURS.length * Math.sqrt(count / max) - 1e-9));
    return HEAT_COLOURS[Math.max(0, i)];
  }

  function refreshHeat() {
    var mine = ++heatRequest;
    heatNote.textContent = "";
    if (!heatBox.checked || !state.categories.length) {
      heatLayer.clearLayers();
      heatLegend.hidden = !heatBox.checked;
      heatMax.textContent = "";
      return;
    }
    heatLegend.hidden = false;
    var filters = filtersOf(state);
    filters.bbox = viewBox();
    filters.zoom = String(Math.max(0, Math.min(24, Math.round(map.getZoom()))));
    fetchJson(config.heatmap + "?" + RM.filterQuery(filters)).then(function (fc) {
      if (mine !== heatRequest) { return; }
      var max = 1;
      (fc.features || []).forEach(function (f) { max = Math.max(max, f.properties.count || 0); });
      heatLayer.clearLayers();
      heatLayer.options.style = function (f) {
        return { stroke: false, fillColor: heatColour(f.properties.count || 0, max), fillOpacity: 0.6, className: "map-heat-cell" };
      };
      heatLayer.addData(fc);
      if (!map.hasLayer(heatLayer)) { heatLayer.addTo(map); }
      heatMax.textContent = fmt(strings.heatmapCount, { n: num(max) });
      el.setAttribute("data-heat-cells", String((fc.features || []).length));
    }).catch(function (err) {
      if (mine !== heatRequest) { return; }
      heatLayer.clearLayers();
      heatNote.textContent = err && err.status === 400 ? strings.heatmapTooLarge : strings.heatmapFailed;
    });
  }
  heatBox.addEventListener("change", function () {
    if (!heatBox.checked) { map.removeLayer(heatLayer); }
    refreshHeat();
  });

  // --- Hotspots (maphotspots.js) ----------------------------------------------------------------------
  var hotspots = window.Open137Hotspots ? Open137Hotspots.layer(map, {
    config: config,
    pane: "open137-hotspots",
    initialState: state,
    helpers: { fmt: fmt, num: num, dateText: dateText, fetchJson: fetchJson, codeText: codeText, filtersOf: filtersOf }
  }) : null;

  // --- Participation points (shown only when the endpoint answers) -----------------------------------
  var pointsRow = document.getElementById("map-layer-participation-row");
  var pointsBox = document.getElementById("map-layer-participation");
  var pointsLegend = document.getElementById("map-legend-participation");
  var pointsLayer = null;

  function pointPopup(p) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = (lang === "fa" ? p.name_fa || p.name_en : p.name_en || p.name_fa) || "";
    box.appendChild(title);
    var status = document.createElement("p");
    status.textContent = p.status === "empty" ? strings.empty : strings.stocked;
    box.appendChild(status);
    if (typeof p.url === "string" && p.url.charAt(0) === "/" && p.url.charAt(1) !== "/") {
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = strings.openPoint;
      box.appendChild(link);
    }
    return box;
  }

  if (config.participation && window.fetch) {
    afterFirstTiles(loadPoints);
  }
  function loadPoints() {
    fetch(config.participation, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.status === 200 ? r.json() : null;
    }).then(function (fc) {
      if (!fc || fc.type !== "FeatureCollection" || !Array.isArray(fc.features)) { return; }
      pointsLayer = L.geoJSON(fc, {
        pointToLayer: function (f, latlng) {
          var empty = f.properties && f.properties.status === "empty";
          return L.circleMarker(latlng, {
            pane: "open137-points", radius: 8, weight: 3, color: "#ffffff",
            fillColor: empty ? "#757575" : "#2e7d32", fillOpacity: 1,
            className: "map-point " + (empty ? "map-point-empty" : "map-point-stocked")
          });
        },
        onEachFeature: function (f, layer) { layer.bindPopup(pointPopup(f.properties || {})); }
      });
      pointsRow.hidden = false;
      pointsLegend.hidden = false;
      if (pointsBox.checked) { pointsLayer.addTo(map); }
    }).catch(function () { /* no points layer: its toggle stays hidden */ });
  }
  pointsBox.addEventListener("change", function () {
    if (!pointsLayer) { return; }
    if (pointsBox.checked) { pointsLayer.addTo(map); } else { map.removeLayer(pointsLayer); }
  });

  // --- Wiring -------------------------------------------------------------------------------------
  function applyFilters() {
    state = readState();
    if (state.categories.length) {
      reports.setFilters(filtersOf(state));
      if (!map.hasLayer(reports)) { reports.addTo(map); }
    } else if (map.hasLayer(reports)) {
      map.removeLayer(reports);
    }
    keepAddress(state);
    refreshList();
    refreshHeat();
    if (hotspots) { hotspots.refresh(state); }
  }

  form.addEventListener("change", function (e) {
    var t = e.target;
    if (t && (t.name === "category" || t.name === "status" || t.name === "window" || t.name === "since" || t.name === "until")) {
      applyFilters();
    }
  });
  form.classList.add("live");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    applyFilters();
  });

  var moveTimer = null;
  map.on("moveend", function () {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(function () {
      keepAddress(state);
      listStarted = true;
      refreshList();
      refreshHeat();
      if (hotspots) { hotspots.relist(); }
    }, 200);
  });
  // The first list waits for the visible tiles too: its count reads many rows on a large archive.
  var listStarted = false;
  afterFirstTiles(function () {
    if (listStarted) { return; }
    listStarted = true;
    refreshList();
  });
})();
