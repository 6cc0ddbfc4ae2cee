/* The status strip under the top bar, kept current: on the dashboard it hears each line from the page's event
   stream ("callbox:line"); on other pages it asks GET /live/lines every few seconds, so that a page opened during a
   call does not keep saying "ready". */
(function () {
  "use strict";
  var POLL_MS = 5000;
  function start() {
    var strip = document.querySelector("section.status[data-lines]");
    if (!strip) { return; }
    var words = JSON.parse(strip.dataset.words || "{}");
    var TONES = { ready: "good", in_call: "info", initialising: "info", faulted: "bad", absent: "bad" };
    function update(line) {
      var chip = strip.querySelector('.line-chip[data-line="' + CSS.escape(line.name) + '"]');
      if (!chip) { return; }
      chip.querySelector(".dot").className = "dot dot-" + (TONES[line.state] || "muted");
      chip.querySelector(".chip-text").textContent = line.name + " · " + (words.states[line.state] || line.state) +
        (line.held ? " · " + words.held : "");
      var problem = line.problem ? (words.problems[line.problem] || words.problems.fault) : null;
      if (problem) { chip.title = problem.text + " — " + problem.fix; } else if (line.held) { chip.title = line.held; }
      else { chip.removeAttribute("title"); }
    }
    document.addEventListener("callbox:line", function (event) { update(event.detail); });
    var streamed = document.querySelector('meta[name="callbox-live"][content="stream"]');
    if (streamed) { return; }
    function poll() {
      fetch(strip.dataset.lines, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body && body.lines) { body.lines.forEach(update); } })
        .catch(function () { /* the next poll tries again */ })
        .then(function () { window.setTimeout(poll, POLL_MS); });
    }
    window.setTimeout(poll, POLL_MS);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
