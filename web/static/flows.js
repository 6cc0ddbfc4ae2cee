/* Flows and Voice pages: the drawing's zoom and pan, the editor's line numbers and marked lines, the voice
   preview. Loaded with defer; no inline script (the panel's Content-Security-Policy forbids it). */
(function () {
  "use strict";

  /* -- the drawing: buttons, wheel and drag ------------------------------------------------------ */
  var MIN = 0.25, MAX = 6, STEP = 1.25;

  function setUpZoom(box) {
    var img = box.querySelector("img");
    var card = box.parentElement;
    var level = card.querySelector(".zoom-level");
    var s = 1, x = 0, y = 0;

    function apply() {
      img.style.transform = "translate(" + x + "px, " + y + "px) scale(" + s + ")";
      box.dataset.scale = s.toFixed(3);
      if (level) level.textContent = Math.round(s * 100) + "%";
    }
    function zoomAt(factor, cx, cy) {
      var next = Math.min(MAX, Math.max(MIN, s * factor));
      factor = next / s;
      x = cx - (cx - x) * factor;
      y = cy - (cy - y) * factor;
      s = next;
      apply();
    }
    function centre() {
      return [box.clientWidth / 2, box.clientHeight / 2];
    }
    card.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var c = centre();
        if (button.dataset.zoom === "in") zoomAt(STEP, c[0], c[1]);
        else if (button.dataset.zoom === "out") zoomAt(1 / STEP, c[0], c[1]);
        else { s = 1; x = 0; y = 0; apply(); }
      });
    });
    box.addEventListener("wheel", function (event) {
      event.preventDefault();
      var r = box.getBoundingClientRect();
      zoomAt(event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - r.left, event.clientY - r.top);
    }, { passive: false });
    var dragging = null;
    box.addEventListener("pointerdown", function (event) {
      dragging = { px: event.clientX, py: event.clientY, x: x, y: y };
      box.setPointerCapture(event.pointerId);
      box.classList.add("dragging");
    });
    box.addEventListener("pointermove", function (event) {
      if (!dragging) return;
      x = dragging.x + event.clientX - dragging.px;
      y = dragging.y + event.clientY - dragging.py;
      apply();
    });
    function stop() { dragging = null; box.classList.remove("dragging"); }
    box.addEventListener("pointerup", stop);
    box.addEventListener("pointercancel", stop);
    apply();
  }

  /* -- the editor: line numbers, the lines with problems, jump to a node's line -------------------- */
  function setUpEditor(editor) {
    var area = editor.querySelector("textarea");
    var gutter = editor.querySelector(".code-gutter");
    var bad = (editor.dataset.badLines || "").split(",").filter(Boolean).map(Number);

    function numbers() {
      var count = area.value.split("\n").length;
      var out = [];
      for (var i = 1; i <= count; i++) {
        out.push(bad.indexOf(i) >= 0 ? "<b class=\"bad-line\" data-line=\"" + i + "\">" + i + "</b>" : String(i));
      }
      gutter.innerHTML = out.join("\n") + "\n";
      gutter.scrollTop = area.scrollTop;
    }
    area.addEventListener("input", function () { bad = []; numbers(); });
    area.addEventListener("scroll", function () { gutter.scrollTop = area.scrollTop; });
    numbers();

    document.querySelectorAll(".goto-line").forEach(function (button) {
      button.addEventListener("click", function () {
        var line = Number(button.dataset.line);
        var lines = area.value.split("\n");
        var start = 0;
        for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
        area.focus();
        area.setSelectionRange(start, start + (lines[line - 1] || "").length);
        var height = area.scrollHeight / Math.max(1, lines.length);
        area.scrollTop = Math.max(0, (line - 4) * height);
        gutter.scrollTop = area.scrollTop;
      });
    });
  }

  /* -- the Voice page: preview a sentence with the form's voice ------------------------------------ */
  function setUpPreview(button) {
    var form = button.closest("form");
    var audio = form.querySelector(".preview-audio");
    var problem = form.querySelector(".preview-error");
    audio.addEventListener("loadedmetadata", function () {
      audio.dataset.duration = audio.duration.toFixed(2);  /* what was heard, for the page's tests and readers */
    });
    button.addEventListener("click", function () {
      var query = new URLSearchParams();
      ["voice", "speaker", "length_scale", "volume", "text"].forEach(function (name) {
        var field = form.elements[name];
        if (field && field.value.trim() !== "") query.set(name, field.value);
      });
      var url = button.dataset.preview + "?" + query.toString();
      problem.textContent = "";
      delete audio.dataset.duration;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      fetch(url, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) {
          return response.text().then(function (text) { problem.textContent = text; });
        }
        audio.src = url;
        audio.dataset.ready = "1";
        var played = audio.play();
        if (played && played.catch) played.catch(function () { /* the page stays usable: press play */ });
      }).catch(function () {
        problem.textContent = button.dataset.failed || "";
      }).finally(function () {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
    });
  }

  function start() {
    document.querySelectorAll(".flow-zoom").forEach(setUpZoom);
    document.querySelectorAll(".code-editor").forEach(setUpEditor);
    document.querySelectorAll(".preview-button").forEach(setUpPreview);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
