/* The campaign form's provider options: a section drawn from the chosen account's options
   schema (providers.options.describe, in the JSON script #provider-options-config), kept in
   step with the JSON text area under "Advanced (JSON)", which is the field posted. Options
   the section does not show stay in the JSON as they are. Errors of the last save (by path)
   are shown by their inputs. The form works without this script (the JSON box is open). */
"use strict";

(function () {
  function start() {
    const script = document.getElementById("provider-options-config");
    const holder = document.getElementById("provider-options-form");
    const area = document.getElementById("id_provider_options");
    const advanced = document.getElementById("provider-options-advanced");
    const account = document.getElementById("id_provider_account");
    if (!script || !holder || !area) {
      return;
    }
    const config = JSON.parse(script.textContent);
    const words = config.words;
    let errors = config.errors || {};

    function kind() {
      return account ? config.kinds[account.value] || "" : "";
    }

    // The options object in the JSON box; null when it is not a JSON object.
    function read() {
      const text = area.value.trim();
      if (!text) {
        return {};
      }
      try {
        const value = JSON.parse(text);
        return value && typeof value === "object" && !Array.isArray(value) ? value : null;
      } catch (error) {
        return null;
      }
    }

    function write(options) {
      area.value = Object.keys(options).length ? JSON.stringify(options, null, 2) : "";
    }

    function lookup(options, path) {
      return path.reduce((node, key) => (node && typeof node === "object" ? node[key] : undefined), options);
    }

    // Set (or, for undefined, remove) the option at path; empty groups are removed too.
    function assign(path, value) {
      const options = read();
      if (options === null) {
        return;
      }
      let node = options;
      for (const key of path.slice(0, -1)) {
        if (!node[key] || typeof node[key] !== "object" || Array.isArray(node[key])) {
          node[key] = {};
        }
        node = node[key];
      }
      const last = path[path.length - 1];
      if (value === undefined) {
        delete node[last];
      } else {
        node[last] = value;
      }
      for (let depth = path.length - 1; depth > 0; depth -= 1) {
        const parent = lookup(options, path.slice(0, depth - 1));
        const child = parent[path[depth - 1]];
        if (child && typeof child === "object" && !Array.isArray(child) && !Object.keys(child).length) {
          delete parent[path[depth - 1]];
        }
      }
      write(options);
    }

    function element(tag, attributes, text) {
      const node = document.createElement(tag);
      Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, value));
      if (text) {
        node.textContent = text;
      }
      return node;
    }

    function idOf(path) {
      return "provider-option-" + path.join("-");
    }

    function control(row, path, current) {
      const id = idOf(path);
      if (row.kind === "boolean") {
        const box = element("input", { type: "checkbox", id: id });
        box.checked = current === true;
        box.addEventListener("change", () => assign(path, box.checked ? true : undefined));
        return box;
      }
      if (row.kind === "choice") {
        const select = element("select", { id: id });
        select.append(element("option", { value: "" }, words.unset));
        row.choices.forEach(([value, label]) => {
          const text = String(label) === String(value) ? String(value) : value + " — " + label;
          const option = element("option", { value: JSON.stringify(value) }, text);
          option.selected = current !== undefined && JSON.stringify(current) === JSON.stringify(value);
          select.append(option);
        });
        if (current !== undefined && !row.choices.some(([value]) => JSON.stringify(value) === JSON.stringify(current))) {
          const option = element("option", { value: JSON.stringify(current) }, String(current));
          option.selected = true;
          select.append(option); // a value the schema refuses stays visible with its error
        }
        select.addEventListener("change", () => assign(path, select.value ? JSON.parse(select.value) : undefined));
        return select;
      }
      if (row.kind === "choices") {
        const chosen = current === undefined ? [] : Array.isArray(current) ? current : [current];
        const group = element("div", { id: id, class: "provider-option-ticks", role: "group" });
        row.choices.forEach(([value, label], index) => {
          const box = element("input", { type: "checkbox", id: id + "-" + index, value: JSON.stringify(value) });
          box.checked = chosen.some((item) => String(item) === String(value));
          const text = String(label) === String(value) ? String(value) : value + " — " + label;
          const tick = element("label", { for: box.id, class: "vCheckboxLabel" }, text);
          box.addEventListener("change", () => {
            const values = Array.from(group.querySelectorAll("input:checked")).map((b) => JSON.parse(b.value));
            assign(path, values.length ? values : undefined);
          });
          const item = element("span", { class: "provider-option-tick" });
          item.append(box, tick);
          group.append(item);
        });
        return group;
      }
      if (row.kind === "integer") {
        const input = element("input", { type: "number", id: id, step: "1", class: "vIntegerField" });
        if (row.min !== null && row.min !== undefined) {
          input.min = row.min;
        }
        if (row.max !== null && row.max !== undefined) {
          input.max = row.max;
        }
        input.value = current === undefined ? "" : String(current);
        input.addEventListener("input", () => {
          const text = input.value.trim();
          const number = Number(text);
          assign(path, text === "" ? undefined : Number.isInteger(number) ? number : text);
        });
        return input;
      }
      if (row.kind === "list") {
        const box = element("textarea", { id: id, rows: "3", class: "vLargeTextField provider-option-list" });
        box.value = Array.isArray(current) && current.every((x) => typeof x === "string") ? current.join("\n") : "";
        if (current !== undefined && !box.value) {
          box.value = JSON.stringify(current);
          box.readOnly = true; // not a plain list (e.g. the wire form): edit it under Advanced
        }
        box.addEventListener("input", () => {
          const items = box.value.split("\n").map((line) => line.trim()).filter(Boolean);
          assign(path, items.length ? items : undefined);
        });
        return box;
      }
      if (row.kind === "json") {
        const box = element("textarea", { id: id, rows: "2", class: "vLargeTextField provider-option-json" });
        box.value = current === undefined ? "" : typeof current === "string" ? current : JSON.stringify(current);
        box.addEventListener("input", () => {
          const text = box.value.trim();
          box.setCustomValidity("");
          if (!text) {
            assign(path, undefined);
            return;
          }
          try {
            assign(path, JSON.parse(text));
          } catch (error) {
            box.setCustomValidity(words.notJson);
            assign(path, text); // sent as typed: the server names the rule by this input
          }
        });
        return box;
      }
      const input = element("input", { type: "text", id: id, class: "vTextField" });
      input.value = current === undefined ? "" : String(current);
      input.addEventListener("input", () => assign(path, input.value === "" ? undefined : input.value));
      return input;
    }

    function errorList(path) {
      const texts = errors[path.join(".")];
      if (!texts || !texts.length) {
        return null;
      }
      const list = element("ul", { class: "errorlist provider-option-errors" });
      texts.forEach((text) => list.append(element("li", {}, text)));
      return list;
    }

    function rows(into, schema, path, options) {
      schema.forEach((row) => {
        const here = path.concat([row.name]);
        const current = lookup(options, here);
        if (row.kind === "group") {
          const set = element("fieldset", { class: "provider-option-group", "data-path": here.join(".") });
          set.append(element("legend", {}, row.label + " (" + row.name + ")"));
          if (row.help) {
            set.append(element("div", { class: "help" }, row.help));
          }
          const problems = errorList(here);
          if (problems) {
            set.append(problems);
          }
          rows(set, row.fields, here, options);
          into.append(set);
          return;
        }
        const line = element("div", { class: "provider-option", "data-path": here.join(".") });
        const problems = errorList(here);
        if (problems) {
          line.classList.add("errors");
        }
        const label = element("label", { for: idOf(here) }, row.label);
        label.append(" ", element("code", {}, row.name));
        const input = control(row, here, current);
        if (problems) {
          input.setAttribute("aria-invalid", "true");
        }
        line.append(label, input);
        if (problems) {
          line.append(problems);
        }
        if (row.help) {
          line.append(element("div", { class: "help" }, row.help));
        }
        into.append(line);
      });
    }

    function draw() {
      holder.replaceChildren();
      const chosen = kind();
      holder.dataset.kind = chosen;
      const schema = config.schemas[chosen];
      if (!chosen) {
        holder.append(element("p", { class: "help" }, words.choose));
        return;
      }
      if (!schema || !schema.length) {
        holder.append(element("p", { class: "help" }, words.none));
        return;
      }
      const options = read();
      if (options === null) {
        holder.append(element("p", { class: "errornote" }, words.badJson));
        if (advanced) {
          advanced.open = true;
        }
        return;
      }
      rows(holder, schema, [], options);
      const example = config.examples[chosen];
      if (example) {
        const button = element("button", { type: "button", class: "button provider-options-example" }, words.example);
        button.addEventListener("click", () => {
          const current = read();
          if (current && Object.keys(current).length && !window.confirm(words.replace)) {
            return;
          }
          write(example);
          draw();
        });
        holder.append(button);
      }
    }

    // Errors found by the server placed by their inputs need not be repeated in the
    // field's own list ("PushStatus: …"); those without an input stay there.
    function trimFieldErrors() {
      const shown = new Set(Array.from(holder.querySelectorAll("[data-path]")).map((n) => n.dataset.path));
      document.querySelectorAll(".field-provider_options ul.errorlist:not(.provider-option-errors) > li").forEach((item) => {
        const name = item.textContent.split(": ")[0];
        if (shown.has(name) && errors[name]) {
          item.remove();
        }
      });
      document.querySelectorAll(".field-provider_options ul.errorlist:not(.provider-option-errors)").forEach((list) => {
        if (!list.children.length) {
          list.remove();
        }
      });
    }

    // Switching to another kind of provider removes the options it does not take (they
    // would only be refused on save), and says which.
    function dropUnknown(previous) {
      const chosen = kind();
      const known = (config.known || {})[chosen];
      const options = read();
      if (!known || !options || !previous || previous === chosen) {
        return [];
      }
      const names = new Set(known.map((name) => name.toLowerCase()));
      const dropped = Object.keys(options).filter((name) => !names.has(name.toLowerCase()));
      dropped.forEach((name) => delete options[name]);
      if (dropped.length) {
        write(options);
      }
      return dropped;
    }

    if (account) {
      let previous = kind();
      account.addEventListener("change", () => {
        errors = {}; // they were the last save's errors for the account chosen then
        const dropped = dropUnknown(previous);
        previous = kind();
        draw();
        if (dropped.length) {
          holder.prepend(
            element("p", { class: "help provider-options-dropped" }, words.dropped.replace("%(names)s", dropped.join(", ")))
          );
        }
      });
    }
    area.addEventListener("input", () => {
      errors = {};
      draw();
    });
    if (advanced && read() !== null) {
      advanced.open = false;
    }
    draw();
    trimFieldErrors();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
