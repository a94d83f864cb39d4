/* The public map's hotspot layer (/map/, map.js): places where one category of problem recurs
   (/api/hotspots/), candidates for a lasting fix. Each is a circle sized by its count, in its
   category's colour, with a popup; the hotspots on screen are also a list below the map (the
   keyboard and screen-reader path), each with a button that shows it on the map.

   The API answers codes and numbers; the category's name comes from the page's configuration. All
   of it is set with textContent, never as markup. */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* options: config (the page's map-config), pane, helpers ({fmt, num, dateText, fetchJson,
     codeText, filtersOf}). Returns {refresh(state), relist()}. */
  function layer(map, options) {
    var config = options.config;
    var strings = config.strings || {};
    var h = options.helpers;
    var box = document.getElementById("map-layer-hotspots");
    var section = document.getElementById("map-hotspots");
    var summary = document.getElementById("map-hotspots-summary");
    var windowNote = document.getElementById("map-hotspots-window");
    var list = document.getElementById("map-hotspot-list");
    var legend = document.getElementById("map-legend-hotspots");
    var mapEl = map.getContainer();
    if (!box || !section || !config.hotspots) { return { refresh: function () {}, relist: function () {} }; }

    var colours = {};
    var names = {};
    (config.categories || []).forEach(function (c) { colours[c.code] = c.colour; names[c.code] = c.name; });
    var group = L.featureGroup();
    var drawn = [];  // [{feature, marker}] in the API's order (the largest first)
    var request = 0;
    var lastQuery = null;
    var state = null;

    function nameOf(p) { return names[p.category] || p.category || ""; }

    // The API's window: the map's time as days back (7, 30, 365); all time and explicit dates are
    // bounded by the API's longest window (with `since`, the later start wins).
    function query(s) {
      var params = new URLSearchParams();
      var filters = h.filtersOf(s);
      if (filters.category) { params.set("category", filters.category); }
      if (s.since || s.until) {
        if (s.since) { params.set("since", s.since); }
        if (s.until) { params.set("until", s.until); }
        params.set("days", String(config.hotspotMaxDays || 366));
      } else {
        params.set("days", s.window === "all" ? String(config.hotspotMaxDays || 366) : s.window);
      }
      return params.toString();
    }

    // Its reports' first and last day (one day when they are the same).
    function period(p) {
      var first = h.dateText(p.first_at);
      var last = h.dateText(p.last_at);
      return first === last ? first : h.fmt(strings.hotspotPeriod, { from: first, to: last });
    }

    // What a hotspot says, in the popup and in the list: category, count, period, the verdict.
    function details(p, container) {
      var title = el("strong", "map-hotspot-name", nameOf(p));
      container.appendChild(title);
      container.appendChild(el("p", "map-hotspot-count", h.fmt(strings.hotspotReports, { n: h.num(p.count || 0) })));
      container.appendChild(el("p", "map-hotspot-period", period(p)));
      container.appendChild(el("p", "map-hotspot-candidate", strings.hotspotCandidate));
      if (p.generated) {
        var tag = el("span", "tag generated", h.fmt(strings.hotspotGenerated, { n: h.num(p.generated) }));
        tag.title = strings.generatedTitle || "";
        container.appendChild(tag);
      }
      var codes = Array.isArray(p.codes) ? p.codes.filter(function (c) { return typeof c === "string" && c; }) : [];
      if (codes.length) {
        var latest = el("p", "map-hotspot-latest", strings.hotspotLatest + " ");
        codes.forEach(function (code, i) {
          if (i) { latest.appendChild(document.createTextNode(config.language === "fa" ? "، " : ", ")); }
          var a = el("a", "", "");
          a.href = config.track.replace("{code}", encodeURIComponent(code));
          var bdi = el("bdi", "", h.codeText(code));
          bdi.dir = "ltr";
          a.appendChild(bdi);
          latest.appendChild(a);
        });
        container.appendChild(latest);
      }
      return container;
    }

    function radiusOf(count) { return Math.min(36, 9 + 3 * Math.sqrt(Math.max(1, count))); }

    function draw(fc) {
      group.clearLayers();
      drawn = [];
      (fc.features || []).forEach(function (f) {
        var g = f.geometry || {};
        var p = f.properties || {};
        if (g.type !== "Point" || !Array.isArray(g.coordinates)) { return; }
        var latlng = L.latLng(g.coordinates[1], g.coordinates[0]);
        var marker = L.circleMarker(latlng, {
          pane: options.pane, radius: radiusOf(p.count || 0), weight: 3, color: "#1a1a1a",
          dashArray: "5 3", fillColor: colours[p.category] || "#444444", fillOpacity: 0.35,
          className: "map-hotspot map-hotspot-" + String(p.category || "").replace(/[^A-Za-z0-9_-]/g, "")
        });
        marker.bindPopup(details(p, el("div", "map-hotspot-popup")));
        group.addLayer(marker);
        drawn.push({ feature: f, marker: marker, latlng: latlng });
      });
      if (!map.hasLayer(group)) { group.addTo(map); }
      mapEl.setAttribute("data-hotspots", String(drawn.length));
      windowNote.textContent = h.fmt(strings.hotspotWindow, {
        from: h.dateText(fc.since), to: h.dateText(fc.until),
        min: h.num(fc.min_reports || 0), radius: h.num(fc.radius_m || 0)
      });
      relist();
    }

    function item(entry) {
      var p = entry.feature.properties || {};
      var li = el("li", "map-hotspot-item");
      var swatch = el("span", "swatch");
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.background = colours[p.category] || "#444444";
      li.appendChild(swatch);
      details(p, li);
      var show = el("button", "button secondary map-hotspot-show", strings.hotspotShow);
      show.type = "button";
      show.setAttribute("aria-label", h.fmt(strings.hotspotShowLabel, { name: nameOf(p) + " (" + h.fmt(strings.hotspotReports, { n: h.num(p.count || 0) }) + ")" }));
      show.addEventListener("click", function () {
        map.setView(entry.latlng, Math.max(map.getZoom(), 16), { animate: false });
        entry.marker.openPopup();
      });
      li.appendChild(show);
      return li;
    }

    // The list follows what is on screen (the API answered for the whole city).
    function relist() {
      if (!box.checked || !state || !state.categories.length) { return; }
      var bounds = map.getBounds();
      var inView = drawn.filter(function (d) { return bounds.contains(d.latlng); });
      list.textContent = "";
      inView.forEach(function (d) { list.appendChild(item(d)); });
      if (!drawn.length) {
        summary.textContent = strings.hotspotSummaryNoneAtAll;
      } else if (!inView.length) {
        summary.textContent = strings.hotspotSummaryNone;
      } else {
        summary.textContent = h.fmt(strings.hotspotSummary, { n: h.num(inView.length), total: h.num(drawn.length) });
      }
    }

    function clear() {
      group.clearLayers();
      drawn = [];
      list.textContent = "";
      windowNote.textContent = "";
      mapEl.removeAttribute("data-hotspots");
    }

    function refresh(newState) {
      state = newState;
      section.hidden = !box.checked;
      legend.hidden = !box.checked;
      if (!box.checked) {
        ++request;
        lastQuery = null;
        clear();
        if (map.hasLayer(group)) { map.removeLayer(group); }
        summary.textContent = "";
        return;
      }
      if (!state.categories.length) {
        ++request;
        lastQuery = null;
        clear();
        summary.textContent = strings.summaryNoCategory;
        return;
      }
      var q = query(state);
      if (q === lastQuery) { relist(); return; }
      lastQuery = q;
      var mine = ++request;
      summary.textContent = strings.hotspotLoading;
      h.fetchJson(config.hotspots + "?" + q).then(function (fc) {
        if (mine !== request) { return; }
        draw(fc);
      }).catch(function () {
        if (mine !== request) { return; }
        lastQuery = null;
        clear();
        summary.textContent = strings.hotspotFailed;
      });
    }

    box.addEventListener("change", function () { refresh(state || options.initialState); });
    return { refresh: refresh, relist: relist };
  }

  window.Open137Hotspots = { layer: layer };
})();
