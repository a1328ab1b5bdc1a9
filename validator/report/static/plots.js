/* The HTML report's plots, drawn in the browser with uPlot (inlined before this script).
 *
 * Reads the JSON document in the page's element #plot-data (laid out by
 * validator/report/plots.py: data the pipeline decimated) and draws each figure into the
 * ".plot-area" placeholder inside the element whose id the figure names. Once uPlot has drawn
 * a figure on its canvas, that element gets data-drawn="1". Drag across a plot to zoom in on
 * its time (or frequency) axis, double-click to see all of it again; the timeline plots share
 * their time axis and cursor. Nothing is fetched. Plain ES2015, no build step.
 */
(function () {
  "use strict";
  var holder = document.getElementById("plot-data");
  if (!holder) { return; }
  if (typeof uPlot === "undefined") { console.error("plots: uPlot did not load"); return; }
  // arrays travel as whole multiples of 10^-decimals (plots.py, rounded): k / 10^d is the
  // double the number had
  var doc = JSON.parse(holder.textContent, function (key, v) {
    if (v === null || typeof v !== "object" || !Array.isArray(v.ints) ||
        typeof v.decimals !== "number" || Object.keys(v).length !== 2) { return v; }
    var scale = Math.pow(10, v.decimals);
    return v.ints.map(function (k) { return k === null ? null : k / scale; });
  });
  var C = doc.colors;
  var charts = [];      // {id, u, area} of every chart drawn
  var timeCharts = [];  // charts on the shared time axis
  var GRID = "#eaecf0", TICK = "#d0d5dd", INK = "#475467";
  var FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";
  var HEIGHTS = {overview: 200, level: 190, residual: 170, spectrum: 220, zoom: 190, rtp: 190,
                 quality: 200};

  function seq(x0, dx, n) {
    var a = new Array(n);
    for (var i = 0; i < n; i++) { a[i] = x0 + i * dx; }
    return a;
  }

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16 & 255) + "," + (n >> 8 & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function lowest(arrays, fallback) {
    var lo = Infinity;
    arrays.forEach(function (a) {
      for (var i = 0; i < a.length; i++) { if (a[i] !== null && a[i] < lo) { lo = a[i]; } }
    });
    return lo === Infinity ? fallback : lo;
  }

  function highest(arrays, fallback) {
    return -lowest(arrays.map(function (a) {
      return a.map(function (v) { return v === null ? null : -v; });
    }), -fallback);
  }

  // The x range: the figure's whole extent unless the user zoomed in (dblclick resets).
  function xRange(lo, hi) {
    return function (u, mn, mx) {
      var xs = u.data[0];
      if (mn === null || mx === null || xs.length === 0 ||
          (mn <= xs[0] && mx >= xs[xs.length - 1])) { return [lo, hi]; }
      return [mn, mx];
    };
  }

  function line(label, color, width, extra) {
    return Object.assign({label: label, stroke: color, width: width, points: {show: false}},
                         extra || {});
  }

  function stepped(label, color, width) {
    return line(label, color, width, {paths: uPlot.paths.stepped({align: 1})});
  }

  function axes(xLabel, yLabel, xExtra) {
    var common = {stroke: INK, grid: {stroke: GRID, width: 1}, ticks: {stroke: TICK, width: 1, size: 4},
                  font: FONT, labelFont: FONT, labelSize: 16, labelGap: 0};
    return [Object.assign({label: xLabel, size: 26}, common, xExtra || {}),
            Object.assign({label: yLabel, size: 48}, common)];
  }

  // Shaded spans [start, end, colour] under the series; with marks, a triangle at each start.
  // Where more than one span per 4 px is in view, the hairlines and triangles give way to
  // the shading alone (at least a pixel wide), so the series stay readable; zoom in to see
  // each event marked.
  function spanHooks(spans, alpha, marks) {
    function visible(u) {
      var b = u.bbox, out = [];
      for (var i = 0; i < spans.length; i++) {
        var x0 = u.valToPos(spans[i][0], "x", true), x1 = u.valToPos(spans[i][1], "x", true);
        if (x1 >= b.left && x0 <= b.left + b.width) { out.push([x0, x1, spans[i][2]]); }
      }
      return out;
    }
    function dense(u, shown) { return shown.length * 4 * uPlot.pxRatio > u.bbox.width; }
    function shade(u) {
      var ctx = u.ctx, b = u.bbox, px = uPlot.pxRatio, shown = visible(u), many = dense(u, shown);
      ctx.save();
      ctx.beginPath(); ctx.rect(b.left, b.top, b.width, b.height); ctx.clip();
      shown.forEach(function (s) {
        ctx.fillStyle = s[2];
        ctx.globalAlpha = alpha;
        ctx.fillRect(s[0], b.top, Math.max(s[1] - s[0], many ? 1 : 0), b.height);
        if (!many) {  // a hairline at the start: an event shorter than a pixel still shows
          ctx.globalAlpha = marks ? 0.45 : 0.25;
          ctx.fillRect(s[0], b.top, Math.max(px * 0.8, 1), b.height);
        }
      });
      ctx.restore();
    }
    function triangles(u) {
      var ctx = u.ctx, b = u.bbox, px = uPlot.pxRatio, shown = visible(u);
      if (dense(u, shown)) { return; }
      ctx.save();
      shown.forEach(function (s) {
        ctx.fillStyle = s[2];
        ctx.beginPath();
        ctx.moveTo(s[0] - 4.5 * px, b.top); ctx.lineTo(s[0] + 4.5 * px, b.top);
        ctx.lineTo(s[0], b.top + 7 * px);
        ctx.closePath(); ctx.fill();
      });
      ctx.restore();
    }
    return marks ? {drawClear: [shade], draw: [triangles]} : {drawClear: [shade]};
  }

  function eventSpans(channel) {
    return doc.events.filter(function (e) { return channel === null || e[3] === channel; })
      .map(function (e) { return [e[0], e[1], doc.type_colors[e[2]]]; });
  }

  function merge(a, b) {
    var out = {};
    [a, b].forEach(function (h) {
      Object.keys(h).forEach(function (k) { out[k] = (out[k] || []).concat(h[k]); });
    });
    return out;
  }

  // Zooming one timeline plot zooms the others to the same span.
  var syncing = false;
  function shareX(u, key) {
    if (key !== "x" || syncing) { return; }
    var mn = u.scales.x.min, mx = u.scales.x.max;
    syncing = true;
    try {
      timeCharts.forEach(function (v) {
        if (v !== u && v.scales.x.min !== null && (v.scales.x.min !== mn || v.scales.x.max !== mx)) {
          v.setScale("x", {min: mn, max: mx});
        }
      });
    } finally { syncing = false; }
  }

  function timeOptions(fig, yRange, series, hooks) {
    return {
      series: [{label: "time, s"}].concat(series),
      scales: {x: {time: false, range: xRange(0, Math.max(doc.duration_s, 1e-3))},
               y: {range: yRange}},
      axes: axes(doc.time_label, fig.y_label),
      cursor: {sync: {key: "timeline"}, drag: {x: true, y: false}},
      hooks: merge(hooks, {setScale: [shareX]})
    };
  }

  var draw = {
    overview: function (fig) {
      var n = fig.received_min.length, series = [], data = [seq(fig.x0, fig.dx, n)], bands = [];
      if (fig.expected_min.length === n && n) {
        series.push(line("expected max", C.expected, 1), line("expected min", C.expected, 1));
        data.push(fig.expected_max, fig.expected_min);
        bands.push({series: [1, 2], fill: rgba(C.expected, 0.6)});
      }
      series.push(line("received max", C.received, 1), line("received min", C.received, 1));
      data.push(fig.received_max, fig.received_min);
      bands.push({series: [data.length - 2, data.length - 1], fill: rgba(C.received, 0.75)});
      var opts = timeOptions(fig, [-1.05, 1.05], series, spanHooks(eventSpans(fig.channel), 0.22, true));
      opts.bands = bands;
      return [opts, data];
    },
    level: function (fig) {
      var n = fig.received.length, series = [], data = [seq(fig.x0, fig.dx, n)];
      if (fig.expected.length === n) {
        series.push(stepped("expected", C.expected, 1.8));
        data.push(fig.expected);
      }
      series.push(stepped("received", C.received, 1));
      data.push(fig.received);
      series.push(line(fig.threshold_label, C.threshold, 1, {dash: [4, 3]}));
      data.push(data[0].map(function () { return fig.threshold_dbfs; }));
      var below = fig.threshold_dbfs - 10;
      var lo = Math.max(Math.min(lowest([fig.received, fig.expected], below) - 5, below), fig.floor_db);
      return [timeOptions(fig, [lo, 6], series, spanHooks(eventSpans(fig.channel), 0.22, false)), data];
    },
    residual: function (fig) {
      var n = fig.residual.length, data = [seq(fig.x0, fig.dx, n), fig.residual];
      var lo = Math.max(Math.min(lowest([fig.residual], -80) - 5, -80), fig.floor_db);
      var hi = Math.max(highest([fig.residual], 0), -60) + 8;
      return [timeOptions(fig, [lo, hi], [stepped("residual", C.residual, 1)],
                          spanHooks(eventSpans(fig.channel), 0.22, false)), data];
    },
    spectrum: spectrum,
    zoom: function (fig) {
      var n = fig.received.length, x = seq(fig.x0_ms, fig.dx_ms, n), exp = fig.expected.slice(0, n);
      while (exp.length < n) { exp.push(null); }
      var peak = Math.max(highest([fig.received.map(Math.abs), exp.map(function (v) {
        return v === null ? null : Math.abs(v); })], 0), 1e-3);
      var hi = n > 1 ? x[n - 1] : x[0] + fig.dx_ms;
      return [{
        series: [{label: "ms"}, line("expected", C.expected, 1.8), line("received", C.received, 1)],
        scales: {x: {time: false, range: xRange(x[0], hi)}, y: {range: [-1.15 * peak, 1.15 * peak]}},
        axes: axes(fig.x_label, fig.y_label),
        cursor: {drag: {x: true, y: false}},
        hooks: spanHooks([[fig.span_ms[0], fig.span_ms[1], fig.color]], 0.18, false)
      }, [x, exp, fig.received]];
    },
    rtp: function (fig) {
      var x = fig.t_s, y = fig.jitter_ms;
      if (!x.length) { x = [0, doc.duration_s]; y = [null, null]; }
      var spans = fig.spans.map(function (s) { return [s[0], s[1], fig.kind_colors[s[2]]]; });
      return [timeOptions(fig, [0, Math.max(highest([y], 0) * 1.25, 1)],
                          [line("jitter, ms", C.jitter, 1)], spanHooks(spans, 0.25, true)), [x, y]];
    },
    quality: quality
  };

  function spectrum(fig) {
    var lo = 20, i0 = 0, hz = fig.hz, nyquist = hz[hz.length - 1];
    for (var i = 0; i < hz.length; i++) { if (hz[i] > 0) { lo = Math.max(hz[i], 20); break; } }
    while (i0 < hz.length && hz[i0] < lo) { i0++; }
    var ticks = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
    var low = Math.min(lowest([fig.received], -150), lowest([fig.expected], -150));
    function tones(u) {
      if (!fig.tone_hz) { return; }
      var ctx = u.ctx, b = u.bbox, px = uPlot.pxRatio;
      ctx.save();
      ctx.font = Math.round(10 * px) + "px system-ui, sans-serif";
      ctx.textAlign = "center";
      for (var k = 1; k <= 10; k++) {
        var f = k * fig.tone_hz;
        if (f >= 0.995 * nyquist) { break; }
        if (f < u.scales.x.min || f > u.scales.x.max) { continue; }
        var x = u.valToPos(f, "x", true);
        ctx.strokeStyle = k === 1 ? C.tone : C.harmonic;
        ctx.lineWidth = px;
        ctx.setLineDash(k === 1 ? [] : [2 * px, 2 * px]);
        ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
        ctx.fillStyle = k === 1 ? "#027a48" : "#667085";
        ctx.fillText(k === 1 ? fig.tone_hz + " Hz" : "H" + k, x, b.top + 11 * px);
      }
      ctx.restore();
    }
    return [{
      series: [{label: "Hz"}, line("expected", C.expected, 1.8), line("received", C.received, 1)],
      scales: {x: {time: false, distr: 3, log: 10, range: xRange(lo, nyquist)},
               y: {range: [Math.max(low - 5, -180), 10]}},
      axes: axes(fig.x_label, fig.y_label, {
        splits: function (u) {
          return ticks.filter(function (t) { return t >= u.scales.x.min && t <= u.scales.x.max; });
        },
        values: function (u, splits) {
          return splits.map(function (t) { return t >= 1000 ? t / 1000 + "k" : String(t); });
        }
      }),
      cursor: {drag: {x: true, y: false}},
      hooks: {drawClear: [tones]}
    }, [hz.slice(i0), fig.expected.slice(i0), fig.received.slice(i0)]];
  }

  function quality(fig) {
    var x = fig.start_s.map(function (a, i) { return (a + fig.end_s[i]) / 2; });
    var series = [], data = [x];
    fig.metrics.forEach(function (m) {
      series.push(line(m.label, m.color, 1.1, {points: {show: true, size: 6, fill: m.color}}));
      data.push(m.values);
      if (m.whole !== null) {
        series.push(line(m.whole_label, m.color, 0.8, {dash: [4, 3], alpha: 0.7}));
        data.push(x.map(function () { return m.whole; }));
      }
    });
    function bars(u) {  // each window's span, at its score
      var ctx = u.ctx, px = uPlot.pxRatio, b = u.bbox;
      ctx.save();
      ctx.beginPath(); ctx.rect(b.left, b.top, b.width, b.height); ctx.clip();
      fig.metrics.forEach(function (m) {
        ctx.strokeStyle = m.color;
        ctx.lineWidth = 0.8 * px;
        m.values.forEach(function (v, i) {
          if (v === null) { return; }
          var y = u.valToPos(v, "y", true);
          ctx.beginPath();
          ctx.moveTo(u.valToPos(fig.start_s[i], "x", true), y);
          ctx.lineTo(u.valToPos(fig.end_s[i], "x", true), y);
          ctx.stroke();
        });
      });
      ctx.restore();
    }
    var hooks = merge(spanHooks(eventSpans(null), 0.22, true), {draw: [bars]});
    return [timeOptions(fig, [1, 5], series, hooks), data];
  }

  function place(fig) {
    var el = document.getElementById(fig.id);
    var area = el && el.querySelector(".plot-area");
    if (!area) { throw new Error("no placeholder on the page"); }
    var made = draw[fig.kind](fig), opts = made[0];
    opts.width = Math.max(area.clientWidth, 320);
    opts.height = HEIGHTS[fig.kind] || 200;
    opts.legend = {live: true};
    opts.hooks = merge(opts.hooks || {}, {ready: [function (u) {
      if (u.root.querySelector("canvas")) { el.setAttribute("data-drawn", "1"); }
    }]});
    var fallback = area.querySelector(".nojs");
    if (fallback) { area.removeChild(fallback); }
    var u = new uPlot(opts, made[1], area);
    charts.push({id: fig.id, u: u, area: area});
    if (opts.cursor && opts.cursor.sync) { timeCharts.push(u); }
  }

  doc.figures.forEach(function (fig) {
    try { place(fig); } catch (err) { console.error("plot " + fig.id + ": " + err); }
  });
  // The charts, for the browser's console and the browser test: {id, u (the uPlot), area}.
  window.reportPlots = charts;

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      charts.forEach(function (c) {
        var w = Math.max(c.area.clientWidth, 320);
        if (Math.abs(w - c.u.width) > 2) { c.u.setSize({width: w, height: c.u.height}); }
      });
    }, 150);
  });
})();
