// chainrule explain --html: shows step N of the states Python wrote into #explain-data.
// Steps count from 1; #step=N opens step N; the arrow keys, Home and End move.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("explain-data").textContent);
  const steps = data.steps;
  let current = 1;

  function fromHash() {
    const m = /step=(\d+)/.exec(window.location.hash);
    return m ? parseInt(m[1], 10) : 1;
  }

  function show(n) {
    n = Math.max(1, Math.min(steps.length, n || 1));
    current = n;
    const s = steps[n - 1];
    document.body.dataset.step = String(n);
    document.body.dataset.phase = s.phase;
    for (const node of data.nodes) {
      const state = s.nodes[node.id] || {};
      for (const key of ["value", "tan", "grad"]) {
        document.getElementById(node.id + "-" + key).textContent = state[key] || "";
      }
      const g = document.getElementById(node.id);
      g.classList.toggle("current", s.node === node.id);
      g.classList.toggle("upstream", s.upstream === node.id);
      g.classList.toggle("received", s.received.includes(node.id));
    }
    for (const edge of data.edges) {
      const label = s.edges[edge.id];
      document.getElementById(edge.id).classList.toggle("current", Boolean(label));
      const text = document.getElementById(edge.id + "-label");
      text.replaceChildren();
      const parts = label || [];
      // A label above its arrow grows upwards from the anchor, one below it downwards.
      const first = text.dataset.up === "1" ? -(parts.length - 1) * 1.2 + "em" : "0";
      parts.forEach(function (part, i) {
        const span = document.createElementNS(SVG, "tspan");
        span.setAttribute("class", part[0]);
        span.setAttribute("x", text.getAttribute("x"));
        span.setAttribute("dy", i ? "1.2em" : first);
        span.textContent = part[1];
        text.appendChild(span);
      });
    }
    document.getElementById("caption").textContent =
      "step " + n + " of " + steps.length + " · " + s.phase;
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
  }

  document.getElementById("first").addEventListener("click", function () { show(1); });
  document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
  document.getElementById("next").addEventListener("click", function () { show(current + 1); });
  document.getElementById("last").addEventListener("click", function () { show(steps.length); });
  document.addEventListener("keydown", function (event) {
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in moves) { show(current + moves[event.key]); event.preventDefault(); }
    else if (event.key === "Home") { show(1); event.preventDefault(); }
    else if (event.key === "End") { show(steps.length); event.preventDefault(); }
  });
  window.addEventListener("hashchange", function () { show(fromHash()); });
  show(fromHash());
})();
