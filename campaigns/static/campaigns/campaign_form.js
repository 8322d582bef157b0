/* The campaign admin form: variable inputs follow the template, schedule fields follow the
   kind, and the next occurrences and the audience size are asked of the admin as you edit.
   Plain JavaScript, no libraries; the form works without it (the server does the same
   on save). The configuration comes from the JSON script #campaign-form-config; its
   "schedule" entry is the server's table of schedule kinds (campaigns/schedules/kinds.py):
   the fields of each kind, the fields shown or hidden with the kind, and the inputs the
   occurrence preview is asked with. */
"use strict";

(function () {
  // Replaced by the server's table in start(); empty, every schedule field stays visible.
  let schedule = { kinds: {}, dependent: [], inputs: [] };

  function byId(id) {
    return document.getElementById(id);
  }

  function element(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => node.setAttribute(key, value));
    children.forEach((child) => node.append(child));
    return node;
  }

  function formRow(name) {
    return document.querySelector(".form-row.field-" + name);
  }

  function scheduleKind() {
    const checked = document.querySelector('input[name="schedule_kind"]:checked');
    return checked ? checked.value : "now";
  }

  function circleType() {
    const select = byId("id_circle_type");
    return select ? select.value : "";
  }

  // --- template: its info, one input per variable, its languages ------------------------------

  function showTemplate(config) {
    const select = byId("id_template");
    const info = config.templates[select.value];
    const box = byId("template-info");
    if (box) {
      box.textContent = "";
      if (info) {
        const variables = info.variables.map((name) => "${" + name + "}").join(", ") || gettext("none");
        box.append(
          interpolate(
            gettext("Version %(version)s · languages %(languages)s · variables %(variables)s"),
            { version: info.version, languages: info.languages.join(", "), variables: variables },
            true
          ),
          element("br"),
          element("q", {}, info.title),
          " — " + info.body
        );
      }
    }
    rebuildParameters(info ? info.variables : []);
    rebuildLanguages(info ? info.languages : [], info ? info.default_language : "");
  }

  function rebuildParameters(variables) {
    const box = byId("id_parameters");
    if (!box) return;
    const name = box.dataset.name || "parameters";
    const kept = {};
    box.querySelectorAll("input").forEach((input) => {
      kept[input.name] = input.value;
    });
    box.textContent = "";
    variables.forEach((variable) => {
      const inputName = `${name}__${variable}`;
      const id = `id_${inputName}`;
      const input = element("input", { type: "text", class: "vTextField", name: inputName, id: id });
      input.value = kept[inputName] || "";
      box.append(
        element("div", { class: "parameter-input" },
          element("label", { for: id }, element("code", {}, "${" + variable + "}")),
          input)
      );
    });
    if (!variables.length) box.append(element("p", { class: "help" }, gettext("This template has no variables.")));
  }

  function rebuildLanguages(languages, fallback) {
    const select = byId("id_language");
    if (!select || !languages.length) return;
    const current = select.value;
    select.textContent = "";
    languages.forEach((language) => select.append(element("option", { value: language }, language)));
    select.value = languages.includes(current) ? current : fallback || languages[0];
  }

  // --- schedule: the kind's fields, and the next occurrences ------------------------------------

  function showKind() {
    const kind = schedule.kinds[scheduleKind()];
    const wanted = kind ? kind.fields : [];
    schedule.dependent.forEach((name) => {
      const row = formRow(name);
      if (row) row.style.display = wanted.includes(name) ? "" : "none";
    });
    const type = circleType();
    document.querySelectorAll(".circle-value [data-circle-type]").forEach((group) => {
      group.style.display = group.dataset.circleType === type ? "" : "none";
    });
  }

  function scheduleQuery() {
    const query = new URLSearchParams({ schedule_kind: scheduleKind() });
    schedule.inputs.forEach((name) => {
      const input = byId("id_" + name);
      if (input) query.set(name, input.value);
    });
    const suffix = { 2: "weekly", 3: "monthly" }[circleType()];
    if (suffix) {
      const boxes = document.querySelectorAll(`input[name="circle_value_${suffix}"]:checked`);
      query.set("circle_value", Array.from(boxes, (box) => box.value).join(","));
    }
    // The volume (totals and warnings) is counted for the chosen audience and account.
    ["audience", "provider_account"].forEach((name) => {
      const input = byId("id_" + name);
      if (input) query.set(name, input.value);
    });
    return query;
  }

  let asked = 0;
  async function refreshOccurrences(config) {
    const box = byId("schedule-preview");
    if (!box) return;
    const mine = ++asked;
    box.dataset.state = "loading";
    let data;
    try {
      const response = await fetch(`${config.scheduleUrl}?${scheduleQuery()}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      if (mine === asked) box.dataset.state = "error";
      return;
    }
    if (mine !== asked) return; // a later edit asked again
    box.textContent = "";
    const list = element("ol", { class: "occurrences" });
    data.occurrences.forEach((moment) => {
      list.append(element("li", {}, moment.local + " ", element("span", { class: "quiet" }, `(${moment.utc})`)));
    });
    const errors = Object.entries(data.errors || {});
    if (!data.occurrences.length && !errors.length) {
      list.append(element("li", {}, data.kind === "now" ? gettext("as soon as approved") : gettext("none")));
    }
    box.append(list);
    // A message the page already shows by its field (after a failed save) is not repeated.
    const shown = new Set(
      Array.from(document.querySelectorAll(".form-row .errorlist li"), (item) => item.textContent.trim())
    );
    const fresh = errors.flatMap(([, messages]) => messages).filter((message) => !shown.has(message));
    if (fresh.length) {
      const problems = element("ul", { class: "errorlist" });
      fresh.forEach((message) => problems.append(element("li", {}, message)));
      box.append(problems);
    }
    // The server's note, in the page's language (the same msgid in djangojs.po and django.po).
    const notes = (data.notes || []).filter((note) => note !== gettext("sent as soon as it is approved"));
    if (notes.length) {
      const list = element("ul", { class: "schedule-notes" });
      notes.forEach((note) => list.append(element("li", {}, note)));
      box.append(list);
    }
    showVolume(box, data.volume);
    box.dataset.state = "ready";
  }

  // The totals and warnings of campaigns/volume.py; the reviewer must acknowledge the warnings.
  function showVolume(box, volume) {
    if (!volume) return;
    const panel = element("div", { class: "volume", id: "form-volume" }, element("p", { class: "volume-total" }, volume.summary));
    if (volume.warnings.length) {
      panel.classList.add("volume-warned");
      const list = element("ul", { class: "volume-warnings" });
      volume.warnings.forEach((warning) => list.append(element("li", { "data-code": warning.code }, warning.message)));
      panel.append(list);
    }
    box.append(panel);
  }

  // --- audience size ------------------------------------------------------------------------------

  // Changing the account and then the audience asks twice; the answers may arrive in either
  // order, so only the latest question may write its answer (as for the occurrences above).
  let sized = 0;
  async function refreshSize(config) {
    const target = byId("audience-size");
    const audience = byId("id_audience");
    if (!target || !audience) return;
    const account = byId("id_provider_account");
    const query = new URLSearchParams({ audience: audience.value, provider_account: account ? account.value : "" });
    const mine = ++sized;
    let text = "";
    try {
      const response = await fetch(`${config.audienceSizeUrl}?${query}`, { credentials: "same-origin" });
      if (!response.ok) return;
      text = (await response.json()).size || gettext("choose an audience");
    } catch (error) {
      text = "";
    }
    if (mine === sized) target.textContent = text;
  }

  // --- time zone: a filter over the select (common zones first, then by area) ---------------

  // Typing "berl" or "shang" leaves only the matching zones; the chosen one always stays.
  function addZoneFilter() {
    const select = byId("id_timezone");
    if (!select || byId("id_timezone_filter")) return;
    const filter = element("input", {
      type: "search", id: "id_timezone_filter", class: "vTextField zone-filter",
      placeholder: select.dataset.filterPlaceholder || "Filter time zones", "aria-controls": "id_timezone",
      "aria-label": select.dataset.filterPlaceholder || "Filter time zones",
    });
    select.before(filter);
    filter.addEventListener("input", () => {
      const words = filter.value.trim().toLowerCase().replace(/\s+/g, "_");
      select.querySelectorAll("option").forEach((option) => {
        option.hidden = Boolean(words) && !option.selected && !option.value.toLowerCase().includes(words);
      });
      select.querySelectorAll("optgroup").forEach((group) => {
        group.hidden = !Array.from(group.children).some((option) => !option.hidden);
      });
      const first = select.querySelector("option:not([hidden])");
      select.size = words ? Math.min(8, Math.max(2, select.querySelectorAll("option:not([hidden])").length)) : 0;
      if (words && first && select.selectedOptions[0] && select.selectedOptions[0].hidden) first.selected = true;
    });
  }

  function start() {
    const script = byId("campaign-form-config");
    if (!script) return; // the campaign is read-only here
    const config = JSON.parse(script.textContent);
    schedule = config.schedule || schedule;
    const form = script.closest("form");
    let timer = null;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => refreshOccurrences(config), 250);
    };
    form.addEventListener("change", (event) => {
      const name = event.target.name || "";
      if (name === "template") showTemplate(config);
      if (name === "schedule_kind" || name === "circle_type") showKind();
      if (name === "schedule_kind" || schedule.inputs.includes(name) || name.startsWith("circle_value")) soon();
      if (name === "audience" || name === "provider_account") {
        refreshSize(config);
        soon();
      }
    });
    form.addEventListener("input", (event) => {
      // Typing in a schedule input asks again (selects and checkboxes report on "change").
      const typed = event.target.tagName === "INPUT" && event.target.type !== "checkbox";
      if (typed && schedule.inputs.includes(event.target.name)) soon();
    });
    showKind();
    addZoneFilter();
    refreshOccurrences(config);
    // After a failed save the form comes back bound to what was posted: ask for the size of
    // the audience now selected rather than trust text drawn for another state.
    const audience = byId("id_audience");
    if (audience && audience.value) refreshSize(config);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
