/* The dashboard, live: the server renders the page; this script follows GET /events (Server-Sent Events).
   Every (re)connection starts with a "snapshot" event that is drawn whole; the events after it are applied one by
   one. Text goes in with textContent only. The status strip hears each line through a "callbox:line" event. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root) { return; }
  var words = JSON.parse(root.dataset.words || "{}");
  var board = JSON.parse(root.dataset.board || "{}");
  var TONES = { ready: "good", in_call: "info", initialising: "info", faulted: "bad", absent: "bad",
    completed: "good", busy: "warn", no_answer: "warn", rejected: "warn", failed: "bad", interrupted: "bad",
    hung_up: "warn", machine: "warn", invalid_number: "bad" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function fill(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (_m, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }
  function tone(value) { return TONES[value] || "muted"; }

  // -- lines ------------------------------------------------------------------------------------------------
  function signalBars(line) {
    var wrap = el("span", "signal");
    wrap.dataset.bars = String(line.bars || 0);
    var bars = el("span", "bars");
    bars.setAttribute("aria-hidden", "true");
    for (var i = 1; i <= 4; i++) { bars.appendChild(el("span", "bar" + ((line.bars || 0) >= i ? " on" : ""))); }
    wrap.appendChild(bars);
    wrap.appendChild(el("span", "signal-dbm", line.signal_dbm !== null && line.signal_dbm !== undefined
      ? line.signal_dbm + " dBm" : words.no_signal));
    return wrap;
  }
  function fact(list, label, cls, content) {
    var div = el("div");
    div.appendChild(el("dt", null, label));
    var dd = el("dd", cls);
    if (typeof content === "string") { dd.textContent = content; } else { dd.appendChild(content); }
    div.appendChild(dd);
    list.appendChild(div);
  }
  function lineCard(line) {
    var card = el("article", "card line-card");
    card.dataset.line = line.name;
    card.dataset.state = line.state;
    var head = el("header", "line-head");
    head.appendChild(el("h3", "line-name", line.name));
    head.appendChild(el("span", "badge badge-" + tone(line.state) + " line-state",
      (words.states[line.state] || line.state) + (line.held ? " · " + words.held : "")));
    card.appendChild(head);
    var problem = line.problem ? (words.problems[line.problem] || words.problems.fault) : null;
    if (problem) {
      var banner = el("p", "banner banner-bad line-problem");
      banner.setAttribute("role", "alert");
      banner.appendChild(el("strong", null, problem.text));
      banner.appendChild(document.createTextNode(" — " + problem.fix));
      card.appendChild(banner);
    }
    if (line.held) { card.appendChild(el("p", "banner banner-warn line-held", line.held)); }
    var facts = el("dl", "facts line-facts");
    var labels = words.labels;
    var call = line.call ? (line.call.customer_name || line.call.phone) + (line.call.test ? " (" + words.test + ")" : "") : "—";
    fact(facts, labels.operator, "line-operator", line.operator || "—");
    fact(facts, labels.signal, "line-signal", signalBars(line));
    fact(facts, labels.sim, "line-sim", line.sim || "—");
    fact(facts, labels.call, "line-call", call);
    card.appendChild(facts);
    return card;
  }
  function drawLine(line) {
    var grid = document.getElementById("live-lines");
    var fresh = lineCard(line);
    var old = grid.querySelector('.line-card[data-line="' + CSS.escape(line.name) + '"]');
    if (old) { grid.replaceChild(fresh, old); } else { grid.appendChild(fresh); }
    document.dispatchEvent(new CustomEvent("callbox:line", { detail: line }));
  }

  // -- calls ------------------------------------------------------------------------------------------------
  function turnItem(turn) {
    var who = turn.speaker === "bot" ? "bot" : (turn.speaker === "customer" ? "customer" : "system");
    var li = el("li", "turn turn-" + who);
    var speaker = el("span", "speaker", words.speakers[turn.speaker] || turn.speaker);
    if (turn.intent) { speaker.appendChild(el("span", "intent", " → " + turn.intent)); }
    li.appendChild(speaker);
    li.appendChild(el("p", "says", turn.text));
    return li;
  }
  function callCard(call) {
    var card = el("article", "live-call");
    card.dataset.call = call.id;
    card.dataset.phone = call.phone;
    card.dataset.name = call.customer_name || "";
    card.dataset.test = call.test ? "1" : "";
    var head = el("header", "call-head");
    var who = el("div");
    var name = el("h3", "call-customer", call.customer_name || call.phone);
    if (call.test) { name.appendChild(document.createTextNode(" ")); name.appendChild(el("span", "badge badge-info", words.test)); }
    who.appendChild(name);
    who.appendChild(el("span", "muted call-phone", call.phone + " · " + fill(words.on_line, { line: call.line })));
    head.appendChild(who);
    head.appendChild(el("span", "badge badge-" + (call.answered ? "good" : "info") + " call-progress",
      call.answered ? words.answered : words.ringing));
    card.appendChild(head);
    var list = el("ol", "dialogue live-transcript");
    (call.turns || []).forEach(function (turn) { list.appendChild(turnItem(turn)); });
    card.appendChild(list);
    return card;
  }
  function callNode(id) {
    return document.querySelector('#live-calls .live-call[data-call="' + CSS.escape(String(id)) + '"]');
  }
  function noCalls() {
    var box = document.getElementById("live-calls");
    var empty = box.querySelector(".no-calls");
    if (!box.querySelector(".live-call")) {
      if (!empty) { box.appendChild(el("p", "muted no-calls", words.no_calls)); }
    } else if (empty) { empty.remove(); }
  }
  function drawCalls(calls) {
    var box = document.getElementById("live-calls");
    box.textContent = "";
    calls.forEach(function (call) { box.appendChild(callCard(call)); });
    noCalls();
  }
  function endedItem(call) {
    var li = el("li");
    li.dataset.call = call.id;
    li.appendChild(el("span", "badge badge-" + tone(call.outcome), words.outcomes[call.outcome] || call.outcome));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", null, call.customer_name || call.phone));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", "muted", call.phone + " · " + call.line));
    if (call.test) {
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "badge badge-info", words.test));
    }
    return li;
  }
  function drawEnded(ended) {
    var list = document.getElementById("ended-calls");
    list.textContent = "";
    ended.forEach(function (call) { list.appendChild(endedItem(call)); });
    if (!ended.length) { list.appendChild(el("li", "muted", "—")); }
  }

  // -- counters ---------------------------------------------------------------------------------------------
  function drawCounters(c) {
    if (!c) { return; }
    var today = c.today || {};
    var set = function (key, value) {
      var dd = document.querySelector('#today [data-figure="' + key + '"]');
      if (dd) { dd.textContent = value; }
    };
    set("calls", today.calls);
    set("answered", today.answered);
    set("connect_rate", today.connect_rate === null || today.connect_rate === undefined ? "—"
      : Math.round(today.connect_rate * 100) + " %");
    var outcomes = document.getElementById("today-outcomes");
    outcomes.textContent = "";
    Object.keys(today.outcomes || {}).forEach(function (o) {
      outcomes.appendChild(el("span", "badge badge-" + tone(o), (words.outcomes[o] || o) + " · " + today.outcomes[o]));
      outcomes.appendChild(document.createTextNode(" "));
    });
    var tasks = document.getElementById("live-tasks");
    tasks.textContent = "";
    (c.tasks || []).forEach(function (t) {
      var li = el("li");
      li.appendChild(el("span", "task-name", t.name || t.flow_id));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "muted", t.finished + " / " + t.total));
      var bar = el("progress");
      bar.max = t.total || 1;
      bar.value = t.finished;
      li.appendChild(bar);
      tasks.appendChild(li);
    });
    if (!(c.tasks || []).length) { tasks.appendChild(el("li", "muted", words.no_tasks)); }
    Object.keys(c.outbox || {}).forEach(function (target) {
      var dd = document.querySelector('#live-outbox [data-target="' + target + '"] dd');
      var o = c.outbox[target];
      if (!dd) { return; }
      dd.textContent = "";
      if (!o.configured) { dd.appendChild(el("span", "muted", words.not_configured)); return; }
      dd.appendChild(document.createTextNode(fill(words.waiting, { n: o.pending })));
      if (o.failed) {
        dd.appendChild(document.createTextNode(" · "));
        dd.appendChild(el("span", "badge badge-bad", fill(words.failed_n, { n: o.failed })));
      }
    });
  }

  // -- events -----------------------------------------------------------------------------------------------
  function snapshot(data) {
    board = data;
    var grid = document.getElementById("live-lines");
    (data.lines || []).forEach(drawLine);
    Array.prototype.forEach.call(grid.querySelectorAll(".line-card"), function (card) {
      if (!(data.lines || []).some(function (l) { return l.name === card.dataset.line; })) { card.remove(); }
    });
    drawCalls(data.calls || []);
    drawEnded(data.ended || []);
    drawCounters(data.counters);
  }
  var handlers = {
    snapshot: snapshot,
    line: drawLine,
    call: function (call) {
      if (callNode(call.id)) { return; }
      document.getElementById("live-calls").appendChild(callCard(call));
      noCalls();
    },
    answered: function (data) {
      var node = callNode(data.id);
      if (!node) { return; }
      var badge = node.querySelector(".call-progress");
      badge.className = "badge badge-good call-progress";
      badge.textContent = words.answered;
    },
    turn: function (data) {
      var node = callNode(data.id);
      if (node) { node.querySelector(".live-transcript").appendChild(turnItem(data.turn)); }
    },
    call_ended: function (data) {
      var node = callNode(data.id);
      var call = { id: data.id, outcome: data.outcome, line: data.line, phone: "", customer_name: "" };
      if (node) {
        call.customer_name = node.dataset.name;
        call.phone = node.dataset.phone;
        call.test = node.dataset.test === "1";
        node.remove();
      }
      var list = document.getElementById("ended-calls");
      var dash = list.querySelector("li.muted");
      if (dash) { dash.remove(); }
      list.insertBefore(endedItem(call), list.firstChild);
      while (list.children.length > 5) { list.removeChild(list.lastChild); }
      noCalls();
    },
    counters: drawCounters,
    busy: function () { show("reconnecting"); }  // the box has no room for another stream now: back in 10 s
  };

  var indicator = document.getElementById("live-indicator");
  function show(state) {
    indicator.dataset.state = state;
    indicator.querySelector(".live-text").textContent = state === "live" ? words.live : words.reconnecting;
    indicator.querySelector(".dot").className = "dot dot-" + (state === "live" ? "good" : "warn");
  }

  var source = null;
  function connect() {
    source = new EventSource(root.dataset.events);
    Object.keys(handlers).forEach(function (kind) {
      source.addEventListener(kind, function (event) {
        if (kind === "snapshot") { show("live"); }
        handlers[kind](JSON.parse(event.data));
      });
    });
    source.onerror = function () {
      show("reconnecting");
      if (source.readyState === EventSource.CLOSED) {  // refused (too many streams): try again a little later
        source.close();
        window.setTimeout(connect, 5000);
      }
    };
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
}());
