// A button with data-confirm submits only when the user agrees to its question. Kept in a
// file because the Content-Security-Policy (config/settings.py) allows no inline script.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
