/* stackprof report: draw each embedded figure with the inlined plotly.js; sort tables on header click.
   Figures are JSON in <script type="application/json" class="figure-spec"> blocks next to their div. */
(function () {
  "use strict";

  function drawCharts() {
    var specs = document.querySelectorAll("script.figure-spec");
    for (var i = 0; i < specs.length; i++) {
      var node = specs[i];
      var target = document.getElementById(node.id.replace(/-spec$/, ""));
      if (!target) continue;
      try {
        if (typeof Plotly === "undefined") throw new Error("plotly.js is missing from this file");
        var spec = JSON.parse(node.textContent);
        Plotly.newPlot(target, spec.data, spec.layout, spec.config || {});
      } catch (err) {
        target.className += " chart-error";
        target.textContent = "This chart could not be drawn: " + err.message;
        console.error("stackprof: chart " + target.id + ": " + err.message);
      }
    }
  }

  function cellValue(row, index) {
    var cell = row.cells[index];
    var text = cell ? cell.textContent.trim() : "";
    var number = parseFloat(text.replace(/[,%×]/g, ""));
    return isNaN(number) || !/^[-\d.,]+\s*[%×]?\s*[⚠]?$/.test(text) ? text.toLowerCase() : number;
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    for (var i = 0; i < headers.length; i++) {
      (function (index, header) {
        header.setAttribute("aria-sort", "none");
        header.addEventListener("click", function () {
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          var ascending = header.getAttribute("aria-sort") !== "ascending";
          rows.sort(function (a, b) {
            var x = cellValue(a, index), y = cellValue(b, index);
            if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
            return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
          });
          for (var j = 0; j < headers.length; j++) headers[j].setAttribute("aria-sort", "none");
          header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
          rows.forEach(function (row) { body.appendChild(row); });
        });
      })(i, headers[i]);
    }
  }

  function init() {
    drawCharts();
    var tables = document.querySelectorAll("table.sortable");
    for (var i = 0; i < tables.length; i++) makeSortable(tables[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
