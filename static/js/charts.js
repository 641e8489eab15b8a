// Dashboard charts: queries per second by rcode and by source, drawn with uPlot (vendored
// under static/vendor/uplot). The data is the page's own JSON (json_script): no request.
"use strict";
(function () {
  const data = document.getElementById("query-charts");
  const box = document.querySelector("[data-charts=queries]");
  if (!data || !box || typeof uPlot === "undefined") return;
  const charts = JSON.parse(data.textContent);
  const colours = ["#2b6cb0", "#c05621", "#2f855a", "#b83280", "#6b46c1", "#718096", "#d69e2e"];
  let plots = [];

  function draw(range) {
    plots.forEach((plot) => plot.destroy());
    plots = [];
    const chart = charts[range];
    // The figures link to the query log of the range shown.
    const since = "since=" + encodeURIComponent(chart.since);
    box.querySelectorAll("[data-range-link]").forEach((link) => {
      link.href = link.href.split("?")[0] + "?" + since;
    });
    box.querySelectorAll(".chart").forEach((target) => {
      const series = chart[target.dataset.series];
      const names = Object.keys(series).sort();
      const width = Math.max(240, target.clientWidth || box.clientWidth || 300);
      const options = {
        width: width,
        height: 160,
        series: [{}].concat(names.map((name, i) => ({
          label: name, stroke: colours[i % colours.length], width: 1.5,
        }))),
        axes: [{}, { size: 40 }],
        legend: { live: false },
      };
      const plot = new uPlot(options, [chart.times].concat(names.map((n) => series[n])), target);
      // A click on a series' legend entry opens the query log filtered by it.
      plot.root.querySelectorAll(".u-legend .u-series").forEach((entry, i) => {
        if (i === 0) return;
        entry.addEventListener("dblclick", () => {
          window.location.href = target.dataset.link + encodeURIComponent(names[i - 1]) + "&" + since;
        });
      });
      target.dataset.drawn = String(names.length);
      plots.push(plot);
    });
  }

  box.querySelectorAll("[data-range]").forEach((button) => {
    button.addEventListener("click", () => {
      box.querySelectorAll("[data-range]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      draw(button.dataset.range);
    });
  });
  draw("hour");
})();
