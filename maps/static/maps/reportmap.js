/* The reports on a map, from the app's vector tiles (/tiles/reports/{z}/{x}/{y}.mvt), drawn by
   Leaflet.VectorGrid; shared by the public map (map.js) and the home page (home.js).

   A tile holds one of two layers (issues/oversight/README.md):
   - `cells` (zoomed out, or a tile too dense to list): a point per cell with `count`; neighbouring
     cells are summed and drawn as a circle sized by the count and labelled with it; selecting one
     zooms in on it;
   - `reports` (zoomed in): one point per report with `code`, `category`, `status`, `created`, drawn
     in its category's colour; selecting one opens its tracking page.

   The filters (categories, status, dates) are the tile URL's query string, so the server counts
   the cells with them: a toggled category changes the URL and the tiles are fetched again.

   Tiles are drawn as SVG (one <path> per feature): it is VectorGrid's default renderer, its clicks
   work with Leaflet 1.9 (the canvas renderer calls L.DomEvent.fakeStop, which 1.9 removed), and a
   tile's features are elements that can be counted. The count labels are SVG <text> added next to
   each cell's circle, with textContent (a number from the tile, never markup). */
(function () {
  "use strict";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var CELL_COLOUR = "#0b5d6e";

  function numberText(n, lang) {
    try {
      return new Intl.NumberFormat(lang === "fa" ? "fa-IR" : "en-GB").format(n);
    } catch (e) {
      return String(n);
    }
  }

  // A tile's `cells` are 32 x 32 to a tile (8 px apart on screen): too close for a circle with a
  // number. They are summed here into 8 x 8 groups (32 px apart), each drawn at its reports' centre
  // (the cells' centres weighted by their counts). Cells of the tile's buffer ring belong to the
  // neighbouring tile, which draws them: they are left out, so no report is counted twice.
  var GROUPS = 8;

  function cellRadius(count) {
    return Math.min(15, 8 + 2.5 * Math.log(Math.max(1, count)) / Math.LN10);
  }

  function mergeCells(features, extent) {
    var size = extent / GROUPS;
    var groups = {};
    var order = [];
    features.forEach(function (f) {
      var ring = f.geometry && f.geometry[0];
      var point = ring && ring[0];
      var n = (f.properties && f.properties.count) || 0;
      if (!point || !n || point.x < 0 || point.y < 0 || point.x >= extent || point.y >= extent) { return; }
      var key = Math.floor(point.x / size) + ":" + Math.floor(point.y / size);
      if (!groups[key]) { groups[key] = { x: 0, y: 0, count: 0 }; order.push(key); }
      var g = groups[key];
      g.x += point.x * n;
      g.y += point.y * n;
      g.count += n;
    });
    return order.map(function (key) {
      var g = groups[key];
      return { type: 1, properties: { count: g.count }, geometry: [[{ x: g.x / g.count, y: g.y / g.count }]] };
    });
  }

  var ReportTiles = L.VectorGrid.Protobuf.extend({
    _getVectorTilePromise: function (coords) {
      return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, coords).then(function (tile) {
        var cells = tile && tile.layers && tile.layers.cells;
        if (cells && cells.features) { cells.features = mergeCells(cells.features, cells.extent || 4096); }
        return tile;
      });
    }
  });

  // The query string of the tiles (and of the list and the heatmap): only the filters that are set.
  function filterQuery(filters) {
    var parts = [];
    Object.keys(filters).forEach(function (key) {
      var value = filters[key];
      if (value === undefined || value === null || value === "") { return; }
      parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
    });
    return parts.join("&");
  }

  function tileUrl(template, filters) {
    var query = filterQuery(filters);
    return template + (query ? "?" + query : "");
  }

  // A per-tile SVG renderer that writes each cell's count on its circle.
  function labelledTileFactory(lang) {
    return function (coords, size, options) {
      var renderer = L.svg.tile(coords, size, options);
      var addPath = renderer._addPath;
      renderer._addPath = function (layer) {
        addPath.call(this, layer);
        // Leaflet 1.9 takes a pointed-at circle of radius 10 or less for a marker and asks for its
        // LatLng, which a tile's symbol has not (the click then fails on `undefined.lat`): without
        // getLatLng the point is read from the pointer, as for any path.
        layer.getLatLng = undefined;
        var p = layer.properties || {};
        if (typeof p.count !== "number" || !layer._point) { return; }
        var text = document.createElementNS(SVG_NS, "text");
        text.setAttribute("x", layer._point.x);
        text.setAttribute("y", layer._point.y);
        text.setAttribute("class", "map-cell-label");
        text.setAttribute("text-anchor", "middle");
        text.setAttribute("dominant-baseline", "central");
        text.textContent = numberText(p.count, lang);
        this._rootGroup.appendChild(text);
      };
      return renderer;
    };
  }

  /* The reports layer. options: template (tile URL with {z}/{x}/{y}), track (tracking page URL with
     {code}), colours ({category code: colour}), lang, filters ({status, category, since, until}),
     pane (a map pane's name), detailZoom (where single reports start). Returns the VectorGrid with
     setFilters(filters). Fires "open137:drawn" on the map with the number of features of each tile
     drawn. */
  function reportLayer(map, options) {
    var colours = options.colours || {};
    var layer = new ReportTiles(tileUrl(options.template, options.filters || {}), {
      rendererFactory: labelledTileFactory(options.lang),
      interactive: true,
      pane: options.pane || "overlayPane",
      maxZoom: 24,
      vectorTileLayerStyles: {
        cells: function (p) {
          return {
            radius: cellRadius(p.count || 1), fill: true, fillColor: CELL_COLOUR, fillOpacity: 0.88,
            color: "#ffffff", weight: 1.5, className: "map-cell"
          };
        },
        reports: function (p) {
          return {
            radius: 7, fill: true, fillColor: colours[p.category] || "#444444", fillOpacity: 0.95,
            color: "#ffffff", weight: 1.5, className: "map-report map-report-" + String(p.category || "")
          };
        }
      }
    });
    layer.on("click", function (e) {
      var p = (e.layer && e.layer.properties) || {};
      if (p.code && options.track) {
        window.location.href = options.track.replace("{code}", encodeURIComponent(p.code));
      } else if (typeof p.count === "number") {
        map.setView(e.latlng, Math.min(map.getZoom() + 2, options.detailZoom || 14));
      }
    });
    layer.on("tileload", function (e) {
      var tile = e.tile;
      var features = tile ? tile.querySelectorAll("path.map-report, path.map-cell").length : 0;
      map.fire("open137:drawn", { features: features, tile: tile });
    });
    layer.setFilters = function (filters) {
      layer.setUrl(tileUrl(options.template, filters));
      return layer;
    };
    return layer;
  }

  window.Open137ReportMap = {
    reportLayer: reportLayer,
    filterQuery: filterQuery,
    numberText: numberText
  };
})();
