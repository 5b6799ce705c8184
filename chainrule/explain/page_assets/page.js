// chainrule explain --html: shows step N of the states Python wrote into #explain-data.
// Steps count from 1; #step=N opens step N; the arrow keys, Home and End move; + and - zoom.
// Node texts come as changes per step ("changed"); the state at step N replays steps 1..N.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const LABEL_LINE = 15;
  const data = JSON.parse(document.getElementById("explain-data").textContent);
  const steps = data.steps;
  const view = document.getElementById("view");
  const graph = document.getElementById("graph");
  const natural = [graph.width.baseVal.value, graph.height.baseVal.value];
  const el = {};  // id -> element, looked up once
  const byId = function (id) { return el[id] || (el[id] = document.getElementById(id)); };
  const states = [];  // states[n]: node -> texts after step n (built on demand, then kept)
  let current = 1;
  let zoom = 1;
  let painted = {};  // node -> texts now on screen
  let lit = { nodes: [], edges: [] };  // what the previous step highlighted

  function stateAt(n) {
    if (!states[0]) states[0] = {};
    for (let k = states.length; k <= n; k++) {
      const next = Object.assign({}, states[k - 1]);
      Object.assign(next, steps[k - 1].changed);
      states[k] = next;
    }
    return states[n];
  }

  function fromHash() {
    const m = /step=(\d+)/.exec(window.location.hash);
    return m ? parseInt(m[1], 10) : 1;
  }

  // ----- module boxes: a collapsed box hides what it holds behind one labelled cover -----
  const boxOf = {};  // node -> the ids of the boxes it lies in, outermost first
  for (const node of data.nodes) {
    boxOf[node.id] = data.boxes.filter(function (b) {
      return node.box && (node.box === b.path || node.box.startsWith(b.path + "."));
    }).map(function (b) { return b.id; });
  }
  const collapsed = new Set(data.collapsed ? data.boxes.map(function (b) { return b.id; }) : []);
  const opened = new Set();  // boxes a step opened (closed again when the step moves on)

  function hidden(nodeId) {
    return boxOf[nodeId].some(function (b) { return collapsed.has(b); });
  }

  function drawBoxes() {
    for (const b of data.boxes) {
      const inside = data.boxes.some(function (o) {
        return collapsed.has(o.id) && b.path.startsWith(o.path + ".");
      });
      byId(b.id + "-cover").style.display = collapsed.has(b.id) && !inside ? "" : "none";
      byId(b.id).style.display = inside ? "none" : "";
    }
    for (const node of data.nodes) byId(node.id).style.display = hidden(node.id) ? "none" : "";
    for (const edge of data.edges) {
      const off = hidden(edge.src) && hidden(edge.dst);
      byId(edge.id).style.display = off ? "none" : "";
    }
  }

  function openFor(nodeIds) {
    // Open the boxes the step is about, one module at a time: close what the last step opened.
    const want = new Set();
    for (const id of nodeIds) for (const b of boxOf[id] || []) want.add(b);
    for (const b of opened) if (!want.has(b)) { collapsed.add(b); opened.delete(b); }
    for (const b of want) if (collapsed.has(b)) { collapsed.delete(b); opened.add(b); }
  }

  function toggle(boxId) {
    opened.delete(boxId);
    if (collapsed.has(boxId)) collapsed.delete(boxId); else collapsed.add(boxId);
    drawBoxes();
  }

  // ----- one step -----
  function paintNodes(state) {
    for (const node of data.nodes) {
      const now = state[node.id] || {};
      const was = painted[node.id] || {};
      if (now === was) continue;
      for (const key of node.keys) {
        if ((now[key] || "") !== (was[key] || "")) {
          byId(node.id + "-" + key).textContent = now[key] || "";
        }
      }
    }
    painted = state;
  }

  function paintEdge(edge, label, backward) {
    const g = byId(edge.id);
    g.classList.toggle("current", Boolean(label));
    g.classList.toggle("backward", Boolean(label) && backward);
    const text = byId(edge.id + "-label");
    text.replaceChildren();
    const parts = (text.dataset.role ? [["role", text.dataset.role]] : []).concat(label || []);
    const lines = Math.max(parts.length, 1);
    parts.forEach(function (part, i) {
      const span = document.createElementNS(SVG, "tspan");
      span.setAttribute("class", part[0]);
      span.setAttribute("x", text.getAttribute("x"));
      // Lines centred on the place dot kept for the label (4 px: from centre to baseline).
      span.setAttribute("dy", i ? LABEL_LINE : 4 - ((lines - 1) * LABEL_LINE) / 2);
      span.textContent = part[1];
      text.appendChild(span);
    });
  }

  function show(n) {
    n = Math.max(1, Math.min(steps.length, n || 1));
    current = n;
    const s = steps[n - 1];
    document.body.dataset.step = String(n);
    document.body.dataset.phase = s.phase;
    paintNodes(stateAt(n));
    for (const id of lit.nodes) byId(id).classList.remove("current", "upstream", "received");
    for (const id of lit.edges) paintEdge(data.edges[parseInt(id.slice(1), 10)], null, false);
    const nodes = [s.node, s.upstream].concat(s.received).filter(Boolean);
    if (s.node) byId(s.node).classList.add("current");
    if (s.upstream) byId(s.upstream).classList.add("upstream");
    for (const id of s.received) byId(id).classList.add("received");
    const edges = Object.keys(s.edges);
    const backward = s.phase === "backward";
    for (const id of edges) paintEdge(data.edges[parseInt(id.slice(1), 10)], s.edges[id], backward);
    lit = { nodes: nodes, edges: edges };
    if (data.boxes.length) {
      const about = nodes.slice();
      if (!s.node) about.length = 0;  // the summary: leave the boxes as the reader set them
      for (const id of edges) about.push(data.edges[parseInt(id.slice(1), 10)].src);
      if (about.length) openFor(about);
      drawBoxes();
    }
    // The caption's words come from the page's language (data.words, from i18n).
    document.getElementById("caption").textContent = data.words.caption
      .replace("{n}", n).replace("{total}", steps.length)
      .replace("{phase}", data.words["phase_" + s.phase]);
    document.getElementById("step-title").textContent = s.title;
    const list = document.getElementById("step-lines");
    list.replaceChildren();
    for (const line of s.lines) {
      const li = document.createElement("li");
      li.className = line[0];
      li.textContent = line[1];
      list.appendChild(li);
    }
    document.getElementById("first").disabled = document.getElementById("prev").disabled = n === 1;
    document.getElementById("last").disabled = document.getElementById("next").disabled =
      n === steps.length;
    if (fromHash() !== n || !/step=/.test(window.location.hash)) {
      history.replaceState(null, "", "#step=" + n);
    }
    if (s.node) bringIntoView([s.node].concat(s.received));
  }

  // ----- scrolling and zoom: the text keeps its size, the view scrolls -----
  const nodeById = {};
  for (const node of data.nodes) nodeById[node.id] = node;

  // Scrolls so that the step's nodes are in view: all of them (the current node and where its
  // contributions arrive) where they fit, else the current node, centred.
  function bringIntoView(ids) {
    const shown = ids.map(function (id) { return nodeById[id]; });
    function box(list) {
      const x0 = Math.min.apply(null, list.map(function (n) { return n.x; })) * zoom;
      const y0 = Math.min.apply(null, list.map(function (n) { return n.y; })) * zoom;
      const x1 = Math.max.apply(null, list.map(function (n) { return n.x + n.width; })) * zoom;
      const y1 = Math.max.apply(null, list.map(function (n) { return n.y + n.height; })) * zoom;
      return { x0: x0, y0: y0, x1: x1, y1: y1 };
    }
    const all = box(shown), me = box(shown.slice(0, 1));
    if (all.x0 < view.scrollLeft || all.x1 > view.scrollLeft + view.clientWidth) {
      // Too wide to show at once: the current node at the right, where the nodes it reads
      // from (and sends gradients back to), all on its left, come into view as far as they fit.
      view.scrollLeft = all.x1 - all.x0 <= view.clientWidth
        ? (all.x0 + all.x1) / 2 - view.clientWidth / 2
        : me.x1 + 24 - view.clientWidth;
    }
    const b = all.y1 - all.y0 <= view.clientHeight ? all : me;
    if (b.y0 < view.scrollTop || b.y1 > view.scrollTop + view.clientHeight) {
      view.scrollTop = (b.y0 + b.y1) / 2 - view.clientHeight / 2;
    }
  }

  function setZoom(z) {
    zoom = Math.max(0.1, Math.min(4, z));
    graph.setAttribute("width", String(Math.round(natural[0] * zoom)));
    graph.setAttribute("height", String(Math.round(natural[1] * zoom)));
    document.getElementById("zoom-reset").textContent = Math.round(zoom * 100) + "%";
    const s = steps[current - 1];
    if (s.node) bringIntoView([s.node].concat(s.received));
  }

  function fit() {
    setZoom(Math.min(1, view.clientWidth / natural[0], view.clientHeight / natural[1]));
  }

  function click(id, fn) { document.getElementById(id).addEventListener("click", fn); }
  click("first", function () { show(1); });
  click("prev", function () { show(current - 1); });
  click("next", function () { show(current + 1); });
  click("last", function () { show(steps.length); });
  click("zoom-in", function () { setZoom(zoom * 1.25); });
  click("zoom-out", function () { setZoom(zoom / 1.25); });
  click("zoom-reset", function () { setZoom(1); });
  click("zoom-fit", fit);
  click("open-all", function () { collapsed.clear(); opened.clear(); drawBoxes(); });
  click("close-all", function () {
    for (const b of data.boxes) collapsed.add(b.id);
    opened.clear();
    drawBoxes();
  });
  graph.addEventListener("click", function (event) {
    // A cover opens its box; a box's title collapses it.
    const cover = event.target.closest(".cover");
    const box = event.target.closest(".box");
    if (cover) toggle(cover.dataset.box);
    else if (box && event.target.tagName === "text") toggle(box.id);
  });
  if (!data.boxes.length) document.querySelector(".boxes").style.display = "none";
  document.addEventListener("keydown", function (event) {
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in moves) { show(current + moves[event.key]); event.preventDefault(); }
    else if (event.key === "Home") { show(1); event.preventDefault(); }
    else if (event.key === "End") { show(steps.length); event.preventDefault(); }
    else if (event.key === "+" || event.key === "=") setZoom(zoom * 1.25);
    else if (event.key === "-") setZoom(zoom / 1.25);
    else if (event.key === "0") setZoom(1);
  });
  window.addEventListener("hashchange", function () { show(fromHash()); });
  drawBoxes();
  show(fromHash());
})();
