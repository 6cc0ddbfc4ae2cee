/* The Modems page: each line's signal over the last day, drawn with uPlot from GET /modems/<line>/signal. */
(function () {
  "use strict";
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function draw(box) {
    fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { points: [] }; })
      .then(function (body) {
        var points = body.points || [];
        if (!points.length) {
          var p = document.createElement("p");
          p.className = "muted signal-empty";
          p.textContent = box.dataset.empty;
          box.appendChild(p);
          return;
        }
        var xs = points.map(function (p) { return p[0]; });
        var ys = points.map(function (p) { return p[1]; });
        var width = Math.max(240, box.clientWidth || 300);
        var hours = body.hours || 24;
        var now = Math.floor(Date.now() / 1000);
        var opts = {
          width: width, height: 160, legend: { show: false },
          // the whole period asked for, whatever it holds: one sample is a dot at its time, not a span of years
          scales: { x: { time: true, range: [now - hours * 3600, now] }, y: { range: [-113, -51] } },
          axes: [{ stroke: css("--muted"), grid: { stroke: css("--line") } },
                 { stroke: css("--muted"), grid: { stroke: css("--line") }, label: box.dataset.label }],
          series: [{}, { label: box.dataset.label, stroke: css("--accent"), width: 2, spanGaps: false,
                         points: { show: points.length < 3, size: 6, fill: css("--accent") } }]
        };
        box.dataset.points = String(points.length);
        new window.uPlot(opts, [xs, ys], box);
      });
  }
  function start() {
    if (!window.uPlot) { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".signal-chart[data-src]"), draw);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
