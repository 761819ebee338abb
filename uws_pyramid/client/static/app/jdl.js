// Job descriptions: the list of job types and one type's parameters, results and durations.
import { byId, h, replace, scrollBox, status } from "./dom.js";
import { ROOT, clientConfig, descriptions, errorText, header, page, params } from "./common.js";
import { expected, typeName } from "./form.js";

const jobType = params.get("type") || "";

function seconds(value) {
  if (value === null || value === undefined) return "service default";
  if (value >= 86400 && value % 3600 === 0) return `${value} s (${value / 86400} days)`;
  return `${value} s`;
}

function cell(value) {
  return h("td", {}, value === null || value === undefined || value === "" ? h("span", { class: "none" }, "—") : value);
}

function parameterTable(jd) {
  if (!jd.parameters.length) return h("p", { class: "muted" }, "No parameters.");
  return scrollBox("Parameters", h("table", { class: "spec" },
    h("thead", {}, h("tr", {}, ["Name", "Type", "Required", "Default", "Accepts", "Description"]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, jd.parameters.map((p) => h("tr", {},
      h("th", { scope: "row" }, p.name), cell(`${typeName(p.type)} (${p.type})`), cell(p.required ? "yes" : "no"),
      cell(p.default), cell(expected(p)), cell(p.description))))));
}

function resultTable(jd) {
  if (!jd.results.length) return h("p", { class: "muted" }, "No declared results (stdout and stderr are always kept).");
  return scrollBox("Results", h("table", { class: "spec" },
    h("thead", {}, h("tr", {}, ["Result", "Media type", "File", "Description"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, jd.results.map((r) => h("tr", {},
      h("th", { scope: "row" }, r.id), cell(r.mime_type), cell(r.default), cell(r.description))))));
}

function showDescription(jd, editor) {
  const durations = [
    ["Execution duration", seconds(jd.execution_duration)],
    ["Longest execution duration", seconds(jd.max_execution_duration)],
    ["Quote", jd.quote === null ? "none" : seconds(jd.quote)],
    ["Destruction after creation", seconds(jd.destruction)],
  ];
  replace(byId("description"),
    h("h2", {}, jd.name, jd.version ? h("span", { class: "muted" }, ` version ${jd.version}`) : null),
    h("p", { class: "about" }, jd.description),
    h("p", { class: "toolbar" },
      h("a", { class: "button primary", href: page("create.html", { type: jd.name }) }, "New job"),
      h("a", { class: "button", href: page("index.html", { type: jd.name }) }, "Jobs"),
      h("a", { class: "button", href: `${ROOT}jdl/${encodeURIComponent(jd.name)}` }, "WADL"),
      editor ? h("a", { class: "button", href: page("editor.html", { type: jd.name }) }, "Edit") : null),
    h("h3", {}, "Parameters"), parameterTable(jd),
    h("h3", {}, "Results"), resultTable(jd),
    h("h3", {}, "Durations"),
    h("dl", { class: "properties" }, durations.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  byId("description").hidden = false;
}

async function setUp() {
  header("jdl", jobType || null);
  try {
    const [{ jobTypes, invalid }, config] = await Promise.all([descriptions.list(), clientConfig()]);
    replace(byId("types"), jobTypes.map((t) => h("li", {},
      h("a", { href: page("jdl.html", { type: t.name }), "aria-current": t.name === jobType ? "page" : null }, t.name),
      h("span", { class: "muted" }, ` ${t.description.split("\n")[0]}`))));
    const broken = Object.entries(invalid || {});
    byId("invalid-section").hidden = broken.length === 0;
    replace(byId("invalid"), broken.map(([name, reason]) => h("li", {}, h("code", {}, name), `: ${reason}`,
      config.editor ? [" ", h("a", { href: page("editor.html", { type: name, broken: 1 }) }, "fix")] : null)));
    byId("new-type").hidden = !config.editor;
    if (jobType) {
      const jd = await descriptions.get(jobType);
      byId("title").textContent = `Job type ${jd.name}`;
      document.title = `${jd.name} – job descriptions – UWS`;
      showDescription(jd, config.editor);
    }
    document.body.dataset.loaded = "true";
  } catch (error) {
    status(errorText(error), "error");
  }
}

setUp();
