// The job page: every property, parameters, results with previews, errors, progress, actions.
// The page follows the job with UWS blocking GETs (uws.watchJob), never a tight polling loop.
import { FINAL, jobProgress } from "../uws.js";
import { byId, confirmDialog, copyButton, h, replace, scrollBox, status } from "./dom.js";
import { descriptions, durationSeconds, errorText, header, jobUrl, listUrl, page, params, phaseBadge,
  ROOT, sizeText, spanText, splitJobUrl, timeText, uws } from "./common.js";
import { showPreview } from "./preview.js";
import { startEditing } from "./edit.js";
import { snippets } from "./snippets.js";
import { relatedJobs } from "./provenance.js";
import { waitingReason } from "./reasons.js";

const jobType = params.get("type") || "";
const jobId = params.get("id") || "";
const url = jobUrl(jobType, jobId);
const ABORTABLE = ["PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED"];
const STREAMS = ["stdout", "stderr"];
let jd = null;
let job = null;
let watcher = null;
let editing = false;
let shownResults = "";
let shownError = "";
let shownSnippets = "";
let shownProvenance = "";
const PROVENANCE_FORMATS = [["json", "PROV-JSON"], ["xml", "PROV-XML"], ["provn", "PROV-N"],
  ["svg", "graph (SVG)"]];

/** A property's term and value; an empty one is left out. */
function property(list, label, value) {
  if (value === null || value === undefined || value === "") return;
  list.push(h("dt", {}, label), h("dd", {}, value));
}

/** A time property, or nothing when the job has no such time. */
function time(iso) {
  return iso ? timeText(iso) : null;
}

function showProperties() {
  const items = [];
  property(items, "Job ID", [h("span", { class: "value" }, job.jobId), " ",
    copyButton(() => job.jobId, "Copy job ID", "Copy ID"), " ",
    copyButton(() => new URL(url, location.href).href, "Copy job URL", "Copy URL")]);
  property(items, "Job type", h("a", { href: page("jdl.html", { type: jobType }) }, jobType));
  property(items, "Run ID", job.runId);
  property(items, "Owner", job.ownerId);
  property(items, "Phase", phaseBadge(job.phase));
  property(items, "Quote", time(job.quote));
  property(items, "Created", time(job.creationTime));
  property(items, "Started", time(job.startTime));
  property(items, "Ended", time(job.endTime));
  const ran = durationSeconds(job.startTime, job.endTime);
  property(items, "Running time", ran === null ? null : `${spanText(ran)}${job.endTime ? "" : " so far"}`);
  property(items, "Execution duration", job.executionDuration === null ? null
    : job.executionDuration ? `${job.executionDuration} s (${spanText(job.executionDuration)})` : "no limit");
  property(items, "Destruction", time(job.destruction));
  replace(byId("properties"), items);
}

/** The uploaded file's own name, from its Content-Disposition (the job keeps it). */
async function showUploadName(href, link) {
  try {
    const response = await uws.request(href, { method: "HEAD" });
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1];
    if (name) { link.textContent = name; link.download = name; }
  } catch { /* the link still works */ }
}

function showParameters() {
  if (editing) return;
  const specs = new Map((jd?.parameters || []).map((p) => [p.name.toLowerCase(), p]));
  const rows = job.parameters.map((p) => {
    const spec = specs.get(p.id.toLowerCase());
    let value = h("span", { class: "value" }, p.value);
    if (spec?.type === "file") {
      const href = `${url}/parameters/${encodeURIComponent(p.id)}`;
      value = h("a", { href, download: p.id, class: "upload" }, "uploaded file");
      showUploadName(href, value);
    } else if (p.byReference) value = h("a", { href: p.value }, "value (by reference)");
    return h("tr", { "data-parameter": p.id }, h("th", { scope: "row" }, p.id), h("td", {}, value));
  });
  replace(byId("parameters"), rows.length
    ? scrollBox("Parameters", h("table", { class: "parameters" }, h("tbody", {}, rows)))
    : h("p", { class: "muted" }, "No parameters."));
}

function resultItem(result) {
  const preview = h("div", { class: "preview" });
  const stream = STREAMS.includes(result.id);
  const details = h("details", { class: "result", "data-result": result.id, open: true },
    h("summary", {}, h("span", { class: "result-id" }, result.id), " ",
      h("span", { class: "muted" }, [result.mimeType, sizeText(result.size)].filter(Boolean).join(" · "))),
    result.description && h("p", { class: "result-description" }, result.description),
    h("p", { class: "links" },
      h("a", { href: result.href, class: "open" }, "Open"), " · ",
      h("a", { href: result.href, download: stream ? `${job.jobId}.${result.id}.txt` : "" }, "Download")),
    preview);
  // An empty standard output or error is not worth a box.
  showPreview(result, preview).then((empty) => {
    if (!empty || !stream) return;
    const box = details.parentElement;
    details.remove();
    if (box && !box.querySelector("details")) box.hidden = true;
  });
  return details;
}

function showResults() {
  const key = JSON.stringify(job.results);
  if (key === shownResults) return;
  shownResults = key;
  const main = job.results.filter((r) => !STREAMS.includes(r.id));
  const streams = job.results.filter((r) => STREAMS.includes(r.id));
  const zip = job.results.length && FINAL.includes(job.phase)
    ? h("p", {}, h("a", { href: `${url}/results.zip`, download: "", class: "zip" }, "Download all results (zip)"))
    : null;
  replace(byId("results"), zip,
    main.length ? main.map(resultItem)
      : h("p", { class: "muted" }, FINAL.includes(job.phase) ? "No results." : "No results yet."),
    streams.length ? h("div", { class: "streams" }, h("h3", {}, "Standard output and error"),
      streams.map(resultItem)) : null);
}

/** curl, httpie and pyvo commands for this job, each with a copy button (redrawn on change). */
function showSnippets() {
  const files = new Set((jd?.parameters || []).filter((p) => p.type === "file").map((p) => p.name.toLowerCase()));
  const texts = snippets(job, listUrl(jobType), new URL(url, location.href).href, files);
  const key = JSON.stringify(texts);
  if (key === shownSnippets) return;
  shownSnippets = key;
  const names = { curl: "curl", httpie: "HTTPie", pyvo: "Python (pyvo)" };
  replace(byId("snippets"), Object.entries(texts).map(([tool, text]) =>
    h("div", { class: "snippet", "data-tool": tool },
      h("h3", { id: `snippet-${tool}` }, names[tool], " ", copyButton(() => text, `Copy the ${names[tool]} commands`)),
      h("pre", { class: "output", "aria-labelledby": `snippet-${tool}`, tabindex: "0" }, text))));
}

async function showError() {
  const summary = job.errorSummary;
  byId("error-section").hidden = !summary;
  if (!summary) return;
  byId("error-summary").textContent = `${summary.type} error: ${summary.message}`;
  const key = `${job.phase}:${summary.message}`;
  if (key === shownError) return;
  shownError = key;
  try {
    byId("error-text").textContent = await uws.getError(url);
  } catch (error) {
    byId("error-text").textContent = errorText(error);
  }
}

function showProvenance() {
  // A finished job's provenance: its graph (drawn by the service) and links to each format.
  const finished = FINAL.includes(job.phase);
  byId("provenance-section").hidden = !finished;
  if (!finished || shownProvenance === job.phase) return;
  shownProvenance = job.phase;
  const href = (format) => `${url}/provenance?format=${format}`;
  replace(byId("provenance-links"), PROVENANCE_FORMATS.flatMap(([format, label], i) =>
    [i ? " · " : null, h("a", { href: href(format) }, label)]));
  const graph = h("img", { src: href("svg"), class: "provenance-graph",
    alt: `Provenance graph of job ${job.jobId}` });
  graph.addEventListener("error", () => replace(byId("provenance-graph"),
    h("p", { class: "muted" }, "No provenance graph for this job (its type may keep none).")));
  replace(byId("provenance-graph"), graph);
  showRelatedJobs();
}

/** Links to the jobs whose results this one used, and to those that used its results. */
async function showRelatedJobs() {
  const related = await Promise.all(["BACK", "FORWARD"].map(async (direction) => {
    const query = new URLSearchParams({ ID: job.jobId, DIRECTION: direction, RESPONSEFORMAT: "json" });
    const response = await fetch(`${ROOT}provenance?${query}`, { headers: { Accept: "application/json" } });
    return response.ok ? relatedJobs(await response.json(), job.jobId) : [];
  }));
  const lines = [["Used results of", related[0]], ["Its results were used by", related[1]]]
    .filter(([, jobs]) => jobs.length)
    .map(([label, jobs]) => h("p", {}, `${label}: `, ...jobs.flatMap((other, i) => {
      const link = h("a", { href: page("job.html", { type: other.type, id: other.id }) },
        other.runId || other.id);
      return i ? [", ", link] : [link];
    })));
  replace(byId("provenance-jobs"), lines);
}

function showInfo() {
  const info = Object.entries(job.jobInfo || {}).filter(([key]) => key !== "progress");
  byId("info-section").hidden = info.length === 0;
  const items = [];
  for (const [key, value] of info) property(items, key, value);
  replace(byId("info"), items);
  const why = job.phase === "QUEUED" ? waitingReason(job.jobInfo) : null;
  byId("waiting").hidden = !why;
  byId("waiting").textContent = why ? `Why: ${why}` : "";
  const fraction = jobProgress(job);
  const box = byId("progress");
  box.hidden = fraction === null;
  if (fraction !== null) {
    const percent = `${Math.round(fraction * 100)} %`;
    replace(box, h("label", { for: "progress-bar" }, "Progress "),
      h("progress", { id: "progress-bar", max: "1", value: String(fraction) }, percent), ` ${percent}`);
  }
}

function showButtons() {
  const phase = job.phase;
  byId("run").hidden = !["PENDING", "HELD"].includes(phase);
  byId("abort").hidden = !ABORTABLE.includes(phase);
  byId("edit").hidden = phase !== "PENDING" || editing || !jd;
  byId("rerun").hidden = !jd;
  byId("delete").hidden = false;
}

function show(next) {
  job = next;
  document.title = `${job.runId || job.jobId} (${job.phase}) – UWS`;
  byId("title").textContent = `${jobType} job ${job.runId ? `“${job.runId}”` : job.jobId}`;
  replace(byId("phase"), phaseBadge(job.phase));
  document.body.dataset.phase = job.phase;
  showProperties();
  showParameters();
  showResults();
  showInfo();
  showProvenance();
  showButtons();
  showError();
  showSnippets();
  if (editing && job.phase !== "PENDING") { editing = false; showParameters(); }
}

function watch() {
  watcher?.abort();
  watcher = new AbortController();
  uws.watchJob(url, show, { signal: watcher.signal }).catch((error) => {
    if (error.name === "AbortError") return;
    status(errorText(error), "error");
    if (error.status === 404) byId("actions").hidden = true;
    else setTimeout(watch, 5000);
  });
}

async function action(label, work) {
  status(`${label}…`);
  try {
    await work();
    status("");
  } catch (error) {
    status(errorText(error), "error");
  }
}

async function rerun() {
  const pairs = [];
  for (const p of job.parameters) {
    const spec = jd.parameters.find((s) => s.name.toLowerCase() === p.id.toLowerCase());
    if (spec?.type === "file") {
      const response = await uws.request(`${url}/parameters/${encodeURIComponent(p.id)}`);
      pairs.push([p.id, new File([await response.blob()], p.value.split("/").pop() || p.id)]);
    } else if (p.byReference) {
      pairs.push([p.id, await (await uws.request(p.value)).text()]);
    } else pairs.push([p.id, p.value]);
  }
  const copy = await uws.createJob(listUrl(jobType), pairs,
    { run: true, runId: job.runId, executionDuration: job.executionDuration });
  location.href = page("job.html", splitJobUrl(copy.url) || { type: jobType, id: copy.jobId });
}

function setUp() {
  header(null, jobType || null);
  byId("xml").href = url;
  byId("clone").href = page("create.html", { type: jobType, clone: jobId });
  const notice = sessionStorage.getItem(`uws-notice:${jobId}`);
  if (notice) {
    sessionStorage.removeItem(`uws-notice:${jobId}`);
    status(notice, "notice");
  }
  byId("run").addEventListener("click", () => action("Starting", async () => { show(await uws.runJob(url)); watch(); }));
  byId("abort").addEventListener("click", () => action("Aborting", async () => { show(await uws.abortJob(url)); watch(); }));
  byId("rerun").addEventListener("click", () => action("Creating a copy of this job", rerun));
  byId("delete").addEventListener("click", async () => {
    if (!(await confirmDialog(`Delete job ${job.jobId} and its results?`, "Delete"))) return;
    action("Deleting", async () => {
      watcher?.abort();
      await uws.deleteJob(url);
      location.href = page("index.html", { type: jobType });
    });
  });
  byId("edit").addEventListener("click", () => {
    editing = true;
    showButtons();
    startEditing({ job, jd, url, container: byId("parameters"),
      done: (updated) => { editing = false; if (updated) show(updated); else showParameters(); showButtons(); } });
  });
  descriptions.get(jobType)
    .then((found) => { jd = found; if (job) { showParameters(); showButtons(); showSnippets(); } })
    .catch(() => { jd = null; });
  watch();
}

setUp();
