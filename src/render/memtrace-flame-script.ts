// The flame graph's browser code, inlined into the HTML report as text: it reads the stacks
// from a JSON script element, builds the call tree (optionally without Lwt frames) and draws
// it as SVG. Labels go through textContent only, never innerHTML. Click a frame to zoom in,
// click a grey bar above it to zoom out. The tree and its rectangles come from
// src/wire/memtrace-flame.ts, inlined as compiled source, so the report and the dashboard draw
// from the same code and neither recurses (stacks 9,984 frames deep exist).
import { HUE, PALETTE_LIGHT } from '../base/palette.js';
import { buildFlameTree, flameFind, flamePath, layoutFlame } from '../wire/memtrace-flame.js';

/** Ancestors of the zoomed frame drawn as grey bars; above that many, the middle ones fold into one bar. */
export const FLAME_TRAIL_MAX = 12;

export const FLAME_SCRIPT = String.raw`
(function () {
  var buildFlameTree = (${buildFlameTree.toString()});
  var layoutFlame = (${layoutFlame.toString()});
  var flamePath = (${flamePath.toString()});
  var flameFind = (${flameFind.toString()});
  var holder = document.getElementById('flame');
  var hide = document.getElementById('hide-lwt');
  var info = document.getElementById('flame-info');
  var NS = 'http://www.w3.org/2000/svg';
  var ROW = 18;
  var WIDTH = 1200;
  var TRAIL_MAX = ${FLAME_TRAIL_MAX};
  var APP = ['${PALETTE_LIGHT[HUE.orange]}', '#F3CF80'];
  var LWT = ['${PALETTE_LIGHT[HUE.sky]}', '#A9D8F3'];
  var zoomPath = [];
  var data;
  function fmt(b) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i === 0 ? b.toFixed(0) : b.toFixed(b >= 100 ? 0 : b >= 10 ? 1 : 2)) + ' ' + u[i];
  }
  function colour(n) {
    var h = 0;
    for (var i = 0; i < n.name.length; i++) h = (h * 31 + n.name.charCodeAt(i)) >>> 0;
    return (n.lwt ? LWT : APP)[h % 2];
  }
  function draw() {
    var root = buildFlameTree(data, hide.checked);
    var focus = flameFind(root, zoomPath);
    zoomPath = flamePath(focus);
    var ancestors = [];
    for (var a = focus.parent; a !== null; a = a.parent) ancestors.push(a);
    ancestors.reverse();
    // Deep zooms keep the root, a folded bar for the middle and the nearest ancestors.
    var trail = ancestors.map(function (n) { return { node: n, folded: 0 }; });
    if (trail.length > TRAIL_MAX) {
      var keep = TRAIL_MAX - 2;
      var folded = trail.length - 1 - keep;
      trail = [trail[0], { node: ancestors[folded], folded: folded }].concat(trail.slice(trail.length - keep));
    }
    var rects = layoutFlame(focus, WIDTH, 0.3);
    var rows = trail.length + focus.height;
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + WIDTH + ' ' + rows * ROW);
    svg.setAttribute('width', '100%');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'flame graph, ' + focus.height + ' frames deep');
    function rect(n, x, w, row, grey, label) {
      var g = document.createElementNS(NS, 'g');
      var r = document.createElementNS(NS, 'rect');
      r.setAttribute('x', x); r.setAttribute('y', row * ROW); r.setAttribute('width', Math.max(w - 0.5, 0.3)); r.setAttribute('height', ROW - 1);
      r.setAttribute('fill', grey ? '#d9d9d9' : colour(n));
      g.appendChild(r);
      var t = document.createElementNS(NS, 'title');
      t.textContent = label + ': ' + fmt(n.value) + ' (' + (root.value > 0 ? (100 * n.value / root.value).toFixed(1) : '0') + '% of all)' + (n.lwt ? ' [Lwt]' : '');
      g.appendChild(t);
      if (w > 40) {
        var txt = document.createElementNS(NS, 'text');
        txt.setAttribute('x', x + 3); txt.setAttribute('y', row * ROW + 13);
        var chars = Math.floor((w - 6) / 6.7);
        txt.textContent = label.length > chars ? label.slice(0, Math.max(chars - 1, 1)) + '\u2026' : label;
        g.appendChild(txt);
      }
      g.addEventListener('click', function () { zoomPath = flamePath(n); draw(); });
      svg.appendChild(g);
    }
    trail.forEach(function (e, i) { rect(e.node, 0, WIDTH, i, true, e.folded > 0 ? '\u2026 ' + e.folded + ' frames (click to go up to ' + e.node.name + ')' : e.node.name); });
    rects.forEach(function (r) { rect(r.node, r.x, r.width, trail.length + r.row, false, r.node.name); });
    holder.replaceChildren(svg);
    info.textContent = 'Showing ' + fmt(focus.value) + ' of ' + fmt(root.value) + ' allocated, ' + root.height + ' rows deep' + (zoomPath.length > 0 ? ' (click a grey bar to zoom out)' : ' (click a frame to zoom in)');
  }
  function safeDraw() {
    try {
      if (data === undefined) data = JSON.parse(document.getElementById('flame-data').textContent);
      draw();
    } catch (e) {
      // Never an empty section without a word: say what failed.
      holder.replaceChildren();
      info.textContent = 'The flame graph could not be drawn: ' + (e && e.message ? e.message : String(e));
      info.className = 'bad';
    }
  }
  hide.addEventListener('change', safeDraw);
  safeDraw();
})();
`;
