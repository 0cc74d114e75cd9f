/* Sidecar ops charts: small SVG bar/line charts drawn from the page's JSON (no library, no network). */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#57606a"];

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, s, anchor) {
    var t = el("text", {x: x, y: y, "text-anchor": anchor || "start"}, parent);
    t.textContent = s;  // textContent: never parsed as markup
    return t;
  }
  function niceMax(v) {
    if (v <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function frame(container, labels, maxV, fmt) {
    var W = 560, H = 220, L = 44, R = 8, T = 24, B = 30;
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, role: "img"}, container);
    var plot = {svg: svg, x0: L, y0: T, w: W - L - R, h: H - T - B};
    el("line", {x1: L, y1: T + plot.h, x2: L + plot.w, y2: T + plot.h, "class": "axis"}, svg);
    el("line", {x1: L, y1: T, x2: L, y2: T + plot.h, "class": "axis"}, svg);
    for (var i = 0; i <= 4; i++) {
      var v = maxV * i / 4, y = T + plot.h - plot.h * i / 4;
      el("line", {x1: L - 3, y1: y, x2: L, y2: y, "class": "axis"}, svg);
      text(svg, L - 5, y + 3, fmt ? fmt(v) : String(Math.round(v * 100) / 100), "end");
    }
    var step = Math.max(1, Math.ceil(labels.length / 6));
    labels.forEach(function (lab, i) {
      if (i % step === 0 || i === labels.length - 1) {
        text(svg, L + plot.w * (i + 0.5) / labels.length, T + plot.h + 14, lab, "middle");
      }
    });
    return plot;
  }
  function legend(svg, names, x) {
    var g = el("g", {"class": "legend"}, svg);
    names.forEach(function (n, i) {
      el("rect", {x: x + i * 110, y: 6, width: 10, height: 10, fill: COLORS[i % COLORS.length]}, g);
      text(g, x + 14 + i * 110, 15, n);
    });
  }
  /* Stacked bars: series = [{name, values}] */
  function stackedBars(container, labels, series) {
    var totals = labels.map(function (_, i) {
      return series.reduce(function (s, ser) { return s + ser.values[i]; }, 0);
    });
    var maxV = niceMax(Math.max.apply(null, totals.concat([0])));
    var p = frame(container, labels, maxV);
    var bw = p.w / labels.length;
    var bars = 0;
    labels.forEach(function (lab, i) {
      var y = p.y0 + p.h;
      series.forEach(function (ser, s) {
        var v = ser.values[i];
        if (!v) return;
        var h = p.h * v / maxV;
        y -= h;
        var r = el("rect", {x: p.x0 + i * bw + bw * 0.15, y: y, width: bw * 0.7, height: h,
                            fill: COLORS[s % COLORS.length], "class": "bar", "data-series": ser.name,
                            "data-day": lab, "data-value": v}, p.svg);
        el("title", {}, r).textContent = lab + ": " + v + " " + ser.name;
        bars++;
      });
    });
    legend(p.svg, series.map(function (s) { return s.name; }), p.x0 + 4);
    return bars;
  }
  /* Horizontal-ish category bars */
  function categoryBars(container, counts) {
    var names = Object.keys(counts);
    if (!names.length) {
      var svg = el("svg", {viewBox: "0 0 560 60"}, container);
      text(svg, 280, 34, "no escalations in this window", "middle");
      return 0;
    }
    var values = names.map(function (n) { return counts[n]; });
    var maxV = niceMax(Math.max.apply(null, values));
    var p = frame(container, names, maxV);
    var bw = p.w / names.length;
    names.forEach(function (n, i) {
      var h = p.h * values[i] / maxV;
      var r = el("rect", {x: p.x0 + i * bw + bw * 0.2, y: p.y0 + p.h - h, width: bw * 0.6, height: h,
                          fill: COLORS[i % COLORS.length], "class": "bar", "data-series": n, "data-value": values[i]},
                 p.svg);
      el("title", {}, r).textContent = n + ": " + values[i];
    });
    return names.length;
  }
  function line(container, labels, values, name, fmt) {
    var maxV = niceMax(Math.max.apply(null, values.concat([0])));
    var p = frame(container, labels, maxV, fmt);
    var pts = values.map(function (v, i) {
      return [p.x0 + p.w * (i + 0.5) / labels.length, p.y0 + p.h - p.h * v / maxV];
    });
    el("polyline", {points: pts.map(function (q) { return q[0].toFixed(1) + "," + q[1].toFixed(1); }).join(" "),
                    fill: "none", stroke: COLORS[0], "stroke-width": 2, "class": "line"}, p.svg);
    pts.forEach(function (q, i) {
      var c = el("circle", {cx: q[0], cy: q[1], r: 2.5, fill: COLORS[0], "class": "point"}, p.svg);
      el("title", {}, c).textContent = labels[i] + ": " + (fmt ? fmt(values[i]) : values[i]);
    });
    legend(p.svg, [name], p.x0 + 4);
    return pts.length;
  }

  function render() {
    var node = document.getElementById("ops-data");
    if (!node) return;
    var data = JSON.parse(node.textContent);
    var days = data.daily || [];
    var labels = days.map(function (d) { return d.day.slice(5); });
    var col = function (k) { return days.map(function (d) { return d[k]; }); };
    var charts = [
      ["chart-volume", function (c) {
        return stackedBars(c, labels, [{name: "processed", values: col("processed")},
                                       {name: "failed", values: col("failed")}]);
      }],
      ["chart-quality", function (c) {
        return stackedBars(c, labels, [{name: "drafted", values: col("drafted")},
                                       {name: "escalated", values: col("escalated")}]);
      }],
      ["chart-escalations", function (c) { return categoryBars(c, data.escalations || {}); }],
      ["chart-cost", function (c) {
        return line(c, labels, col("cost_usd"), "USD", function (v) { return "$" + v.toFixed(v < 1 ? 3 : 2); });
      }]
    ];
    charts.forEach(function (spec) {
      var c = document.getElementById(spec[0]);
      if (!c) return;
      c.textContent = "";
      var n = spec[1](c);
      c.setAttribute("data-rendered", "true");
      c.setAttribute("data-marks", String(n));
    });
    document.body.setAttribute("data-charts", "ready");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
