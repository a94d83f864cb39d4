/* Staff inbox: the reports of the list as pins on a map beside it, coloured by where they stand
   (waiting for the unit, with the unit, done, finished), with a red ring when overdue; a district
   manager's area outlined. The data comes from the page (json_script), not from a second request,
   so the map shows exactly the rows of the list. Without base tiles the district outlines give the
   pins a context. Codes and labels are put in as text, never as HTML. */
(function () {
  "use strict";
  var el = document.getElementById("inbox-map");
  var source = document.getElementById("inbox-data");
  if (!el || !source || !window.L || !window.Open137Map) { return; }
  var data = JSON.parse(source.textContent);
  el.hidden = false;
  var map = Open137Map.create(el, { keyboard: true });

  var GROUPS = {
    received: "new", forwarded: "new", transferred: "new", reopened: "new",
    acknowledged: "working", in_progress: "working",
    done: "done"
  };
  var COLOURS = { "new": "#c07a00", working: "#1a73e8", done: "#7b1fa2", finished: "#5f6368" };
  var LATE = "#b00020";

  function popup(pin) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = pin.url;
    link.className = "pin-link";
    var code = document.createElement("bdi");
    code.dir = "ltr";
    code.textContent = pin.label;
    link.appendChild(code);
    box.appendChild(link);
    var status = document.createElement("div");
    status.textContent = pin.status_label;
    box.appendChild(status);
    return box;
  }

  var bounds = [];
  var outline = null;
  if (data.outline && data.outline.features && data.outline.features.length) {
    outline = L.geoJSON(data.outline, {
      interactive: false,
      style: function () {
        return { color: "#0b6e4f", weight: 3, fillOpacity: 0.04, className: "scope-outline" };
      }
    }).addTo(map);
  }
  var pins = L.featureGroup().addTo(map);
  (data.pins || []).forEach(function (pin) {
    var group = GROUPS[pin.status] || "finished";
    var marker = L.circleMarker([pin.lat, pin.lon], {
      radius: 8,
      weight: pin.overdue ? 4 : 2,
      color: pin.overdue ? LATE : "#ffffff",
      fillColor: COLOURS[group],
      fillOpacity: 0.9,
      className: "pin pin-" + group + (pin.overdue ? " pin-overdue" : ""),
      bubblingMouseEvents: false
    });
    marker.bindPopup(popup(pin));
    marker.addTo(pins);
    bounds.push([pin.lat, pin.lon]);
    // The list row and its pin point at each other.
    var row = document.getElementById("row-" + pin.code);
    if (row) {
      row.addEventListener("mouseenter", function () { marker.setStyle({ radius: 12 }); });
      row.addEventListener("mouseleave", function () { marker.setStyle({ radius: 8 }); });
    }
  });

  var fitted = false;
  if (outline) {
    var area = outline.getBounds();
    if (bounds.length) { area.extend(L.latLngBounds(bounds)); }
    map.fitBounds(area, { padding: [12, 12] });
    fitted = true;
  } else if (bounds.length) {
    map.fitBounds(L.latLngBounds(bounds), { padding: [24, 24], maxZoom: 16 });
    fitted = true;
  }
  Open137Map.districts(map, el.dataset.districts, { tooltips: false, fit: !fitted }).then(function () {
    if (outline) { outline.bringToFront(); }
    pins.bringToFront();
  });
})();
