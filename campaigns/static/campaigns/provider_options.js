/* The campaign form's provider options: list what the chosen account's provider takes, and
   offer an example to start from. The form works without it (the server checks on save).
   The configuration comes from the JSON script #provider-options-config. */
"use strict";

(function () {
  function start() {
    const script = document.getElementById("provider-options-config");
    const box = document.getElementById("provider-options-reference");
    const area = document.getElementById("id_provider_options");
    const account = document.getElementById("id_provider_account");
    if (!script || !box || !area) {
      return;
    }
    const config = JSON.parse(script.textContent);

    function kind() {
      if (!account) {
        return "";
      }
      return config.kinds[account.value] || "";
    }

    function draw() {
      box.replaceChildren();
      const chosen = kind();
      const rows = config.reference[chosen];
      if (!rows) {
        box.textContent = "Choose a provider account to see its options.";
        return;
      }
      const list = document.createElement("dl");
      rows.forEach(([name, text]) => {
        const term = document.createElement("dt");
        term.textContent = name;
        const detail = document.createElement("dd");
        detail.textContent = text;
        list.append(term, detail);
      });
      box.append(list);
      const example = config.examples[chosen];
      if (example) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button";
        button.textContent = "Start from an example";
        button.addEventListener("click", () => {
          const current = area.value.trim();
          if (current && current !== "{}" && !window.confirm("Replace the options written so far?")) {
            return;
          }
          area.value = JSON.stringify(example, null, 2);
        });
        box.append(button);
      }
    }

    if (account) {
      account.addEventListener("change", draw);
    }
    draw();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
