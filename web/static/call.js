// A call's page: clicking a turn of the transcript (or Enter on it) plays the recording from that turn's time.
// Turns carry data-at-ms (milliseconds from the answer, as the recording starts); the player is #call-audio.
(function () {
  "use strict";

  function seek(audio, turn) {
    var ms = parseInt(turn.getAttribute("data-at-ms"), 10);
    if (isNaN(ms)) { return; }
    var go = function () {
      audio.currentTime = ms / 1000;
      var playing = audio.play();
      if (playing && playing.catch) { playing.catch(function () { /* the user may have paused or blocked it */ }); }
    };
    if (audio.readyState >= 1) { go(); } else { audio.addEventListener("loadedmetadata", go, { once: true }); audio.load(); }
    document.querySelectorAll(".turn.current").forEach(function (t) { t.classList.remove("current"); });
    turn.classList.add("current");
  }

  function start() {
    var audio = document.getElementById("call-audio");
    if (!audio) { return; }
    document.querySelectorAll(".dialogue .turn[data-at-ms]").forEach(function (turn) {
      turn.classList.add("seekable");
      turn.setAttribute("tabindex", "0");
      turn.setAttribute("role", "button");
      turn.addEventListener("click", function () { seek(audio, turn); });
      turn.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); seek(audio, turn); }
      });
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
