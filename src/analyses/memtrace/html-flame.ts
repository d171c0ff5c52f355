// The flame graph's browser code, inlined into the HTML report as text: it reads the stacks
// from a JSON script element, builds the call tree (optionally without Lwt frames) and draws
// it as SVG. Labels go through textContent only, never innerHTML. Click a frame to zoom in,
// click the root to zoom out.
export const FLAME_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('flame-data').textContent);
  var holder = document.getElementById('flame');
  var hide = document.getElementById('hide-lwt');
  var info = document.getElementById('flame-info');
  var NS = 'http://www.w3.org/2000/svg';
  var ROW = 18;
  var WIDTH = 1200;
  var zoomPath = [];
  function fmt(b) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i === 0 ? b.toFixed(0) : b.toFixed(b >= 100 ? 0 : b >= 10 ? 1 : 2)) + ' ' + u[i];
  }
  function build(hideLwt) {
    var root = { name: 'all', lwt: 0, value: 0, children: new Map() };
    data.stacks.forEach(function (st) {
      var node = root;
      root.value += st[1];
      var frames = st[0].filter(function (f) { return !(hideLwt && data.frames[f][1] === 1); });
      if (frames.length === 0) frames = [-1];
      frames.forEach(function (f) {
        var key = String(f);
        var child = node.children.get(key);
        if (!child) {
          child = { name: f < 0 ? '[Lwt]' : data.frames[f][0], lwt: f < 0 ? 1 : data.frames[f][1], value: 0, children: new Map() };
          node.children.set(key, child);
        }
        child.value += st[1];
        node = child;
      });
    });
    return root;
  }
  function colour(n, depth) {
    if (n.lwt === 1) return 'hsl(210,55%,' + (70 - (depth % 4) * 4) + '%)';
    var h = 0;
    for (var i = 0; i < n.name.length; i++) h = (h * 31 + n.name.charCodeAt(i)) >>> 0;
    return 'hsl(' + (15 + (h % 40)) + ',75%,' + (58 + (h % 12)) + '%)';
  }
  function depthOf(n) {
    var d = 0;
    n.children.forEach(function (c) { d = Math.max(d, depthOf(c)); });
    return d + 1;
  }
  function draw() {
    var root = build(hide.checked);
    var focus = root;
    var trail = [root];
    for (var i = 0; i < zoomPath.length; i++) {
      var next = focus.children.get(zoomPath[i]);
      if (!next) { zoomPath = zoomPath.slice(0, i); break; }
      focus = next;
      trail.push(focus);
    }
    var rows = trail.length + depthOf(focus) - 1;
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + WIDTH + ' ' + rows * ROW);
    svg.setAttribute('width', '100%');
    function rect(n, x, w, row, path, isTrail) {
      if (w < 0.3) return;
      var g = document.createElementNS(NS, 'g');
      var r = document.createElementNS(NS, 'rect');
      r.setAttribute('x', x); r.setAttribute('y', row * ROW); r.setAttribute('width', Math.max(w - 0.5, 0.3)); r.setAttribute('height', ROW - 1);
      r.setAttribute('fill', isTrail ? '#ddd' : colour(n, row));
      g.appendChild(r);
      var t = document.createElementNS(NS, 'title');
      t.textContent = n.name + ': ' + fmt(n.value) + ' (' + (root.value > 0 ? (100 * n.value / root.value).toFixed(1) : '0') + '%)' + (n.lwt === 1 ? ' [Lwt]' : '');
      g.appendChild(t);
      if (w > 40) {
        var txt = document.createElementNS(NS, 'text');
        txt.setAttribute('x', x + 3); txt.setAttribute('y', row * ROW + 13);
        var chars = Math.floor((w - 6) / 6.5);
        txt.textContent = n.name.length > chars ? n.name.slice(0, Math.max(chars - 1, 1)) + '\u2026' : n.name;
        g.appendChild(txt);
      }
      g.addEventListener('click', function () { zoomPath = path; draw(); });
      svg.appendChild(g);
    }
    trail.forEach(function (n, i) { rect(n, 0, WIDTH, i, zoomPath.slice(0, i), i < trail.length - 1); });
    function children(n, x, w, row, path) {
      var kids = Array.from(n.children.entries()).sort(function (a, b) { return b[1].value - a[1].value; });
      var at = x;
      kids.forEach(function (e) {
        var cw = n.value > 0 ? w * e[1].value / n.value : 0;
        rect(e[1], at, cw, row, path.concat([e[0]]), false);
        children(e[1], at, cw, row + 1, path.concat([e[0]]));
        at += cw;
      });
    }
    children(focus, 0, WIDTH, trail.length, zoomPath.slice());
    holder.replaceChildren(svg);
    info.textContent = 'Showing ' + fmt(focus.value) + ' of ' + fmt(root.value) + ' allocated' + (zoomPath.length > 0 ? ' (click a grey bar to zoom out)' : ' (click a frame to zoom in)');
  }
  hide.addEventListener('change', draw);
  draw();
})();
`;
