// New task form: show the customers' source that is chosen (CSV file or tickets); without this script both show.
(function () {
  "use strict";
  function sync(form) {
    var chosen = form.querySelector('input[name="source"]:checked');
    var value = chosen ? chosen.value : "csv";
    form.querySelectorAll(".source").forEach(function (el) {
      el.hidden = !el.classList.contains("source-" + value);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector(".task-form");
    if (!form) { return; }
    form.querySelectorAll('input[name="source"]').forEach(function (el) {
      el.addEventListener("change", function () { sync(form); });
    });
    sync(form);
  });
})();
