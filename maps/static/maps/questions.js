/* Report page: of the categories' extra questions, only the chosen category's are shown (without
   this script all are shown, each group headed by its category). The other groups are disabled as
   well as hidden, so their fields are not sent; the server reads only the chosen category's anyway. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var box = document.getElementById("category-questions");
  if (!form || !box) { return; }
  var groups = box.querySelectorAll("fieldset[data-category]");

  function show() {
    var checked = form.querySelector("input[name=category]:checked");
    var code = checked ? checked.value : "";
    Array.prototype.forEach.call(groups, function (group) {
      var chosen = group.dataset.category === code;
      group.hidden = !chosen;
      group.disabled = !chosen;
    });
  }

  Array.prototype.forEach.call(form.querySelectorAll("input[name=category]"), function (radio) {
    radio.addEventListener("change", show);
  });
  show();
})();
