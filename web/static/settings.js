/* The Statistics and QA pages' charts (uPlot, vendored): each element .chart[data-chart] is drawn from the JSON in
   the data-json attribute of the element its data-source names (not a script block: htmx drops those); the same figures are in a table beside it. Colours come from the page's CSS
   variables, so the charts follow the dark theme. No inline script: the CSP forbids it. */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function readJson(id) {
    var el = document.getElementById(id);
    return el && el.dataset.json ? JSON.parse(el.dataset.json) : null;
  }

  var PALETTE = ["--accent", "--info", "--warn", "--bad", "--good", "--muted"];

  function colour(i) {
    return cssVar(PALETTE[i % PALETTE.length], "#0f766e");
  }

  function bars() {
    return uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 48] }) : undefined;
  }

  /* x: bucket indexes; labels: what each index is called on the axis */
  function draw(el, labels, series, opts) {
    var axis = { stroke: cssVar("--muted", "#5f6b7a"), grid: { stroke: cssVar("--line", "#e1e5ea") },
                 ticks: { stroke: cssVar("--line", "#e1e5ea") } };
    var xs = labels.map(function (_, i) { return i; });
    var config = {
      width: Math.max(el.clientWidth, 240),
      height: 220,
      scales: { x: { time: false } },
      legend: { show: series.length > 1 },
      axes: [
        Object.assign({}, axis, {
          values: function (u, splits) {
            return splits.map(function (i) { return Number.isInteger(i) && labels[i] !== undefined ? labels[i] : ""; });
          }
        }),
        Object.assign({}, axis, { size: 48 })
      ],
      series: [{ label: opts.xLabel || "" }].concat(series.map(function (s, i) {
        var line = { label: s.label, stroke: colour(i), width: 2 };
        if (opts.bars) {
          line.fill = colour(i);
          line.paths = bars();
          line.points = { show: false };
        }
        return line;
      }))
    };
    if (opts.yMax) {
      config.scales.y = { range: [0, opts.yMax] };
    }
    var chart = new uPlot(config, [xs].concat(series.map(function (s) { return s.values; })), el);
    el.dataset.drawn = "1";
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(el.clientWidth, 240), height: 220 });
    });
  }

  function names(el) {
    return (el.dataset.labels || "").split("|");
  }

  var BUILDERS = {
    "per-day": function (el, d) {
      var n = names(el);
      draw(el, d.days.map(function (r) { return r.day.slice(5); }), [
        { label: n[0], values: d.days.map(function (r) { return r.calls; }) },
        { label: n[1], values: d.days.map(function (r) { return r.connected; }) }
      ], { bars: d.days.length < 3 });
    },
    "by-hour": function (el, d) {
      draw(el, d.hours.map(function (r) { return String(r.hour); }), [
        { label: names(el)[0], values: d.hours.map(function (r) { return r.rate; }) }
      ], { bars: true, yMax: 100 });
    },
    "duration": function (el, d) {
      draw(el, d.duration.map(function (r) { return r.label; }), [
        { label: names(el)[0], values: d.duration.map(function (r) { return r.calls; }) }
      ], { bars: true });
    },
    "turns": function (el, d) {
      draw(el, d.turns.map(function (r) { return r.label; }), [
        { label: names(el)[0], values: d.turns.map(function (r) { return r.calls; }) }
      ], { bars: true });
    },
    "qa-counts": function (el, d) {
      var tags = Object.keys(d.totals || {});
      if (tags.length === 0) {
        tags = [names(el)[0] || "-"];  /* no tags yet: an empty chart, not none */
      }
      draw(el, d.buckets.map(function (b) { return b.start.slice(5, 10); }), tags.map(function (tag) {
        return { label: tag, values: d.buckets.map(function (b) { return b.counts[tag] || 0; }) };
      }), { bars: false });
    }
  };

  function drawAll() {
    if (typeof uPlot === "undefined") {
      return;
    }
    document.querySelectorAll(".chart[data-chart]:not([data-drawn])").forEach(function (el) {
      var build = BUILDERS[el.dataset.chart];
      var data = readJson(el.dataset.source);
      if (build && data) {
        build(el, data);
      }
    });
  }

  /* the Statistics page's figures arrive after it: htmx:load fires on new content, which is in the page */
  document.addEventListener("htmx:load", drawAll);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
