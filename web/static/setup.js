// The Setup page's copy buttons: <button data-copy="<input id>" data-done="Copied">. No inline script (CSP).
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  const label = button.textContent;
  const done = () => {
    button.textContent = button.dataset.done || label;
    setTimeout(() => { button.textContent = label; }, 2000);
  };
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, () => { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");  // plain http on the LAN: the Clipboard API is not offered there
    done();
  }
});
