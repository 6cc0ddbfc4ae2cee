// Rules page: ask before a delete (forms with class "confirm" and their question in data-confirm).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.classList.contains("confirm")) {
      if (!window.confirm(form.getAttribute("data-confirm") || "?")) { event.preventDefault(); }
    }
  });
})();
