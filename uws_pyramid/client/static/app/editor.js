// The job description editor (administrators; enabled by the service setting uws.editor):
// edit parameters, results, durations and the script, validate, save and activate.
import { byId, confirmDialog, h, replace, status } from "./dom.js";
import { clientConfig, descriptions, errorText, header, page, params, timeText, toLogin } from "./common.js";
import { changedLines, lineDiff } from "./diff.js";

const TYPES = ["xs:string", "xs:int", "xs:long", "xs:float", "xs:double", "xs:boolean", "xs:anyURI", "file"];
const DURATIONS = ["execution_duration", "max_execution_duration", "quote", "destruction"];
const jobType = params.get("type") || "";
let counter = 0;

function input(key, label, value, attrs = {}) {
  const id = `f${(counter += 1)}`;
  const control = attrs.type === "textarea"
    ? h("textarea", { id, "data-key": key, rows: 2 }, value ?? "")
    : h("input", { id, "data-key": key, value: value ?? "", ...attrs });
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

function row(kind, title, ...fields) {
  const box = h("div", { class: `row ${kind}`, role: "group", "aria-label": title }, ...fields);
  box.extra = {}; // what the form does not show (unit, ucd, role...), kept as it was loaded
  box.append(h("button", { type: "button", class: "remove", onclick: () => box.remove() }, `Remove ${title}`));
  return box;
}

function parameterRow(p = {}) {
  const type = h("select", { "data-key": "type", id: `f${(counter += 1)}` },
    TYPES.map((t) => h("option", { value: t }, t)));
  type.value = p.type || "xs:string";
  return keep(p, row("parameter", `parameter ${p.name || "(new)"}`,
    input("name", "Name", p.name),
    h("div", { class: "field" }, h("label", { for: type.id }, "Type"), type),
    h("div", { class: "field check" }, h("label", {},
      h("input", { type: "checkbox", "data-key": "required", checked: Boolean(p.required) }), " Required")),
    input("default", "Default", p.default),
    input("min", "Minimum", p.min),
    input("max", "Maximum", p.max),
    input("choices", "Choices (one per line)", (p.choices || []).join("\n"), { type: "textarea" }),
    input("description", "Description", p.description, { type: "textarea" })));
}

function resultRow(r = {}) {
  return keep(r, row("result", `result ${r.id || "(new)"}`,
    input("id", "Result id", r.id), input("mime_type", "Media type", r.mime_type || "text/plain"),
    input("default", "File name or glob", r.default),
    h("div", { class: "field check" }, h("label", {},
      h("input", { type: "checkbox", "data-key": "required", checked: Boolean(r.required) }), " Required")),
    input("description", "Description", r.description, { type: "textarea" })));
}

/** A row remembers the fields of its item that the form does not show. */
function keep(item, box) {
  box.extra = { ...item };
  return box;
}

function optionRow(key = "", value = "") {
  return row("option", `option ${key || "(new)"}`, input("key", "Name", key), input("value", "Value", value));
}

function values(box) {
  const out = { ...(box.extra || {}) };
  for (const el of box.querySelectorAll("[data-key]")) {
    out[el.dataset.key] = el.type === "checkbox" ? el.checked : el.value;
  }
  return out;
}

function blankToNull(text) {
  return text === undefined || text.trim() === "" ? null : text.trim();
}

/** The description as the service's JSON form (JobDescription.to_json). */
function collect() {
  const options = {};
  for (const box of byId("options").children) {
    const { key, value } = values(box);
    if (key.trim()) options[key.trim()] = value;
  }
  const jd = {
    ...loaded, // the description's own fields the form does not show (used entities, info)
    name: byId("name").value.trim(),
    version: byId("version").value.trim(),
    description: byId("description").value,
    parameters: [...byId("parameters").children].map((box) => {
      const v = values(box);
      return { ...v, default: blankToNull(v.default), min: blankToNull(v.min), max: blankToNull(v.max),
        choices: v.choices.split("\n").map((c) => c.trim()).filter(Boolean) };
    }),
    results: [...byId("results").children].map(values),
    options,
  };
  for (const key of DURATIONS) jd[key] = byId(key).value === "" ? null : Number(byId(key).value);
  return jd;
}

let loaded = {};

function fill(jd, script) {
  loaded = jd;
  byId("name").value = jd.name || "";
  byId("name").readOnly = Boolean(jd.name);
  byId("version").value = jd.version || "";
  byId("description").value = jd.description || "";
  for (const key of DURATIONS) byId(key).value = jd[key] ?? "";
  replace(byId("parameters"), (jd.parameters || []).map(parameterRow));
  replace(byId("results"), (jd.results || []).map(resultRow));
  replace(byId("options"), Object.entries(jd.options || {}).map(([k, v]) => optionRow(k, v)));
  byId("script").value = script;
}

/** Mark the row or field that a fault names ("parameter x: ...", "execution_duration ..."). */
function markRows(message) {
  for (const box of byId("editor").querySelectorAll(".row, .field")) box.classList.remove("invalid");
  for (const control of byId("editor").querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const field = ["name", "version", ...DURATIONS].find((key) => new RegExp(`\\b${key}\\b`).test(message));
  if (field && !/^(parameter|result)/.test(message.replace(/^[^:]*description: /, ""))) {
    byId(field).setAttribute("aria-invalid", "true");
    byId(field).closest(".field").classList.add("invalid");
  }
  const match = /(parameter|result)(?: name| id)? '?([A-Za-z0-9_.-]+)'?/.exec(message);
  if (!match) return;
  const container = byId(match[1] === "parameter" ? "parameters" : "results");
  for (const box of container.children) {
    const v = values(box);
    if ((v.name || v.id) === match[2]) box.classList.add("invalid");
  }
}

/** The changes a save would make, as a diff of the WADL and of the script; null if none. */
async function changes(jd, script) {
  const checked = await descriptions.save(jd, script.trim() ? script : null, { check: true });
  const [wadl, saved] = await Promise.all([descriptions.wadl(jd.name), descriptions.script(jd.name).catch(() => "")]);
  const parts = [["Description (WADL)", wadl, checked.wadl], ["Script", saved, script.trim() ? script : saved]];
  const shown = parts.map(([title, before, after]) => [title, changedLines(lineDiff(before.replace(/\r\n/g, "\n"),
    after.replace(/\r\n/g, "\n")))]).filter(([, lines]) => lines.length);
  if (!shown.length) return null;
  return h("div", { class: "diff-box" }, shown.map(([title, lines]) => [h("h3", {}, title),
    h("pre", { class: "output diff", tabindex: "0", "aria-label": `Changes to the ${title}` },
      lines.map(([mark, line]) => h("span", { class: { "+": "add", "-": "del", "…": "skip" }[mark] || "same" },
        `${mark} ${line}\n`)))]));
}

async function submit(check) {
  const formError = byId("form-error");
  formError.hidden = true;
  byId("saved").hidden = true;
  const jd = collect();
  const script = byId("script").value;
  try {
    // A saved type's name is read-only: a type that exists (and is not broken) gets a diff.
    if (!check && byId("name").readOnly && !params.get("broken")) {
      // An existing type: show what changes, and save only once confirmed.
      const diff = await changes(jd, script);
      if (!diff) { status("Nothing to save: the description and script are as saved."); return; }
      if (!(await confirmDialog(`Save these changes to ${jd.name}?`, "Save and activate", diff))) return;
    }
    const answer = await descriptions.save(jd, script.trim() ? script : null, { check });
    byId("wadl").textContent = answer.wadl;
    byId("wadl-box").hidden = false;
    markRows("");
    const saved = byId("saved");
    saved.hidden = false;
    if (check) saved.textContent = "The description is valid; nothing was saved yet.";
    else {
      saved.textContent = "Saved and activated; the previous version was kept.";
      showVersions(jd.name);
      byId("name").readOnly = true;
      history.replaceState(null, "", page("editor.html", { type: jd.name }));
    }
  } catch (error) {
    status("");
    formError.textContent = errorText(error);
    formError.hidden = false;
    markRows(error.message || "");
    formError.focus();
  }
}

/** The saved earlier versions, each viewable and restorable into the form. */
async function showVersions(name) {
  const { versions } = await descriptions.versions(name);
  byId("history-section").hidden = false;
  const view = byId("version-view");
  replace(byId("versions"), versions.length ? versions.map((v) => h("li", { "data-stamp": v.stamp },
    "Replaced ", timeText(v.replaced), " ",
    h("button", { type: "button", class: "view", onclick: async () => {
      const old = await descriptions.version(name, v.stamp);
      replace(view, h("h3", {}, "Version replaced ", timeText(v.replaced)),
        h("pre", { class: "output", tabindex: "0", "aria-label": "Its description (WADL)" }, old.wadl),
        old.script === null ? h("p", { class: "muted" }, "That save kept the script.")
          : h("pre", { class: "output", tabindex: "0", "aria-label": "Its script" }, old.script));
    } }, "View"), " ",
    h("button", { type: "button", class: "restore", onclick: async () => {
      const old = await descriptions.version(name, v.stamp);
      fill(old.description, old.script ?? byId("script").value);
      status("That version is in the form: review it, then save it to make it the active one.");
      byId("name").focus();
    } }, "Restore into the form")))
    : h("li", { class: "muted" }, "No earlier versions."));
}

async function setUp() {
  header("jdl", jobType || null);
  try {
    const config = await clientConfig();
    if (!config.editor) {
      if (!config.user) toLogin(); // perhaps as an administrator
      status(config.admin
        ? "The job description editor is disabled on this service (setting uws.editor)."
        : "Only administrators may edit job descriptions.", "error");
      return;
    }
    let jd = { name: jobType, parameters: [], results: [], options: {} };
    let script = "#!/bin/bash\nset -eu\n";
    if (jobType && !params.get("broken")) jd = await descriptions.get(jobType);
    if (jobType) script = await descriptions.script(jobType).catch(() => script);
    byId("title").textContent = jobType ? `Edit job type ${jobType}` : "New job type";
    fill(jd, script);
    byId("editor").hidden = false;
    byId("add-parameter").addEventListener("click", () => { byId("parameters").append(parameterRow()); byId("parameters").lastChild.querySelector("input").focus(); });
    byId("add-result").addEventListener("click", () => { byId("results").append(resultRow()); byId("results").lastChild.querySelector("input").focus(); });
    byId("add-option").addEventListener("click", () => { byId("options").append(optionRow()); byId("options").lastChild.querySelector("input").focus(); });
    byId("check").addEventListener("click", () => submit(true));
    byId("editor").addEventListener("submit", (e) => { e.preventDefault(); submit(false); });
    if (jobType && !params.get("broken")) await showVersions(jobType).catch(() => {});
    document.body.dataset.loaded = "true";
  } catch (error) {
    status(errorText(error), "error");
  }
}

setUp();
