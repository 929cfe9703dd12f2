/* Returns Mail dashboards: draws every chart container ([data-chart="NAME"]) from the JSON in
 * <script id="chart-data" type="application/json"> (written by Django's json_script), with the
 * vendored Chart.js. No inline script: CSP-friendly. When a chart has drawn, its container gets
 * data-rendered="true" (the browser test waits for it); if it cannot draw, "error". */
(function () {
  "use strict";

  var COLORS = ["#1f6f5c", "#2f6fd6", "#d64545", "#8a5cd6", "#e0a030", "#5c6b73"];

  function formatValue(value, unit) {
    if (value === null || value === undefined) {
      return "no data";
    }
    var text = Number(value).toLocaleString(undefined, { maximumFractionDigits: 2 });
    return unit ? text + " " + unit : text;
  }

  var markRendered = {
    id: "rmRendered",
    afterRender: function (chart) {
      chart.canvas.parentNode.setAttribute("data-rendered", "true");
    }
  };

  function config(spec) {
    var datasets = spec.datasets.map(function (dataset, index) {
      var color = COLORS[index % COLORS.length];
      return {
        label: dataset.label,
        data: dataset.data,
        borderColor: color,
        backgroundColor: spec.type === "line" ? color : color + "cc",
        borderWidth: spec.type === "line" ? 2 : 1,
        maxBarThickness: 48,
        pointRadius: spec.labels.length > 60 ? 0 : 3,
        spanGaps: false
      };
    });
    if (spec.reference) {
      // A limit (e.g. Gmail's 0.3 % spam rate): a dashed line across the chart.
      datasets.push({
        type: "line",
        label: spec.reference.label,
        data: spec.labels.map(function () { return spec.reference.value; }),
        borderColor: "#b00020",
        backgroundColor: "#b00020",
        borderDash: [6, 4],
        borderWidth: 2,
        pointRadius: 0,
        fill: false
      });
    }
    var y = {
      beginAtZero: true,
      title: { display: true, text: spec.y_title },
      ticks: {
        callback: function (value) {
          return spec.unit === "%" ? value + " %" : Number(value).toLocaleString();
        }
      }
    };
    if (spec.y_max !== null && spec.y_max !== undefined) {
      y.max = spec.y_max;
    }
    if (spec.unit === "") {
      y.ticks.precision = 0;
    }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: spec.x_title } },
          y: y
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (context) {
                return context.dataset.label + ": " + formatValue(context.parsed.y, spec.unit);
              }
            }
          }
        }
      },
      plugins: [markRendered]
    };
  }

  function draw() {
    var source = document.getElementById("chart-data");
    if (!source) {
      return;
    }
    var specs = JSON.parse(source.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var spec = specs[box.getAttribute("data-chart")];
      if (!spec || typeof window.Chart === "undefined") {
        box.setAttribute("data-rendered", "error");
        return;
      }
      try {
        new window.Chart(box.querySelector("canvas"), config(spec));
      } catch (error) {
        box.setAttribute("data-rendered", "error");
        throw error;
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
