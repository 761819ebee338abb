// The job list page: filters, keyset pages, live updates, abort and delete of a selection.
// One request per page and one per change: the page waits on the list (WAIT with its ETag)
// instead of polling it, and pages by the service's BEFORE cursor (README, "Job lists at
// scale"), so page 400 of 10,000 jobs costs what page 1 does.
import { FINAL, PHASES, sleep } from "../uws.js";
import { byId, confirmDialog, h, replace, status } from "./dom.js";
import { descriptions, errorText, header, listUrl, page, params, phaseBadge,
  splitJobUrl, timeText, uws } from "./common.js";

/** After a failed request, wait this long before the next. */
const RETRY_MS = 4000;
/** Seconds each wait for a change of the list lasts (the server may end it sooner). */
const WAIT_S = 60;
const state = {
  type: params.get("type") || "",
  phases: params.getAll("phase").filter((p) => PHASES.includes(p)),
  after: params.get("after") || "",
  size: Number(params.get("size")) || 25,
  before: params.get("before") || "",
  page: Math.max(Number(params.get("page")) || 0, 0),
};
/** The cursors of the pages before this one (to go back: "newer"), and of the next one. */
const cursors = [];
let nextCursor = null;
let controller = null;
/** href -> {row, ref, cells}; details: href -> the job's start and end (fetched per row). */
const rows = new Map();
const details = new Map();
const selected = new Set();
let typeNames = null;
let generation = 0;

function showFilters() {
  const active = [...state.phases, state.after ? `after ${state.after.replace("T", " ")}` : ""].filter(Boolean);
  byId("filter-summary").textContent = active.length ? `Filters: ${active.join(", ")}` : "Filters";
}

function saveState() {
  showFilters();
  const query = page("index.html", {
    type: state.type, after: state.after, size: state.size === 25 ? null : state.size,
    page: state.page || null, before: state.before || null,
  });
  const phases = state.phases.map((p) => `phase=${p}`).join("&");
  history.replaceState(null, "", phases ? `${query}${query.includes("?") ? "&" : "?"}${phases}` : query);
}

function makeRow(ref) {
  const where = splitJobUrl(ref.href) || { type: state.type, id: ref.id };
  const box = h("input", {
    type: "checkbox", "aria-label": `Select job ${ref.id}`, checked: selected.has(ref.href),
    onchange: (event) => {
      if (event.target.checked) selected.add(ref.href); else selected.delete(ref.href);
      showSelection();
    },
  });
  const cells = {
    phase: h("td", { "data-label": "Phase" }),
    runId: h("td", { "data-label": "Run ID", class: "runid" }),
    created: h("td", { "data-label": "Created" }),
    started: h("td", { "data-label": "Started" }),
    ended: h("td", { "data-label": "Ended" }),
  };
  const link = h("a", { href: page("job.html", where), class: "jobid" }, ref.id);
  const row = h("tr", { "data-href": ref.href, "data-phase": ref.phase },
    h("td", { class: "select" }, box),
    h("td", { "data-label": "Job" }, link),
    h("td", { "data-label": "Type", class: "col-type" }, where.type),
    cells.phase, cells.runId, cells.created, cells.started, cells.ended);
  return { row, box, cells, ref: null };
}

function updateRow(entry, ref) {
  const old = entry.ref;
  if (!old || old.phase !== ref.phase) {
    replace(entry.cells.phase, phaseBadge(ref.phase));
    entry.row.dataset.phase = ref.phase;
  }
  if (!old || old.runId !== ref.runId) replace(entry.cells.runId, ref.runId || "");
  if (!old) replace(entry.cells.created, timeText(ref.creationTime));
  const detail = details.get(ref.href);
  replace(entry.cells.started, detail ? timeText(detail.startTime) : "…");
  replace(entry.cells.ended, detail ? timeText(detail.endTime) : "…");
  entry.ref = ref;
}

function render(refs) {
  const tbody = byId("jobs").tBodies[0];
  const wanted = new Set(refs.map((r) => r.href));
  for (const [href, entry] of rows) {
    if (!wanted.has(href)) { entry.row.remove(); rows.delete(href); }
  }
  refs.forEach((ref, index) => {
    let entry = rows.get(ref.href);
    if (!entry) { entry = makeRow(ref); rows.set(ref.href, entry); }
    updateRow(entry, ref);
    // Only rows out of place move, so that the focus stays where it is during refreshes.
    if (tbody.children[index] !== entry.row) tbody.insertBefore(entry.row, tbody.children[index] || null);
  });
  for (const href of [...selected]) if (!wanted.has(href)) selected.delete(href);
  byId("empty").hidden = refs.length > 0;
  showSelection();
}

/** Fetch each shown job (start and end times are not in UWS job lists), 4 at a time. */
async function loadDetails(refs, mine) {
  const todo = refs.filter((ref) => {
    const known = details.get(ref.href);
    return !known || known.phase !== ref.phase || !FINAL.includes(ref.phase);
  });
  const worker = async () => {
    for (let ref = todo.shift(); ref && mine === generation; ref = todo.shift()) {
      try {
        const job = await uws.getJob(ref.href);
        details.set(ref.href, { phase: job.phase, startTime: job.startTime, endTime: job.endTime });
        const entry = rows.get(ref.href);
        if (entry && mine === generation) updateRow(entry, { ...entry.ref, phase: job.phase });
      } catch { /* deleted meanwhile: the next refresh drops it */ }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** The service's job types (for the type menu). */
async function jobTypes() {
  typeNames ??= descriptions.list().then((answer) => answer.jobTypes.map((t) => t.name))
    .catch((error) => { typeNames = null; throw error; });
  return typeNames;
}

/** Show the page, then wait for its changes until the filters, the page or the tab change. */
async function refresh() {
  const mine = ++generation;
  controller?.abort();
  controller = new AbortController();
  const options = {
    phases: state.phases, after: state.after ? new Date(state.after).toISOString() : null,
    last: state.size, before: state.before || null, signal: controller.signal,
  };
  let etag = null;
  while (mine === generation && !document.hidden) {
    try {
      const answer = await uws.listPage(listUrl(state.type || null),
        { ...options, etag, wait: etag ? WAIT_S : null });
      if (mine !== generation) return;
      if (!answer.changed) continue;
      etag = answer.etag;
      nextCursor = answer.next;
      render(answer.refs);
      byId("older").disabled = !nextCursor;
      byId("newer").disabled = state.page === 0;
      byId("pageno").textContent = `Page ${state.page + 1}`;
      byId("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.loaded = "true";
      await loadDetails(answer.refs, mine);
    } catch (error) {
      if (mine !== generation || error.name === "AbortError") return;
      status(errorText(error), "error");
      await sleep(RETRY_MS);
    }
  }
}

function showSelection() {
  const count = selected.size;
  byId("selection").textContent = count ? `${count} selected` : "";
  byId("abort").disabled = byId("delete").disabled = count === 0;
  const all = byId("all");
  all.checked = count > 0 && count === rows.size;
  all.indeterminate = count > 0 && count < rows.size;
}

async function act(verb, method) {
  const hrefs = [...selected];
  if (verb === "Delete" && !(await confirmDialog(`Delete ${hrefs.length} job(s)?`, "Delete"))) return;
  const failures = [];
  for (const href of hrefs) {
    try { await method(href); } catch (error) { failures.push(`${href.split("/").pop()}: ${error.message}`); }
    if (verb === "Delete") selected.delete(href);
  }
  if (verb === "Abort") selected.clear();
  for (const entry of rows.values()) entry.box.checked = selected.has(entry.ref.href);
  const done = hrefs.length - failures.length;
  status(failures.length ? `${verb}: ${done} done, ${failures.length} refused: ${failures.join("; ")}`
    : `${verb}: ${done} job(s) done.`, failures.length ? "error" : "info");
  refresh();
}

function restart() {
  state.page = 0;
  state.before = "";
  cursors.length = 0;
  saveState();
  for (const entry of rows.values()) entry.row.remove();
  rows.clear();
  selected.clear();
  refresh();
}

async function setUp() {
  header("jobs", state.type || null);
  byId("title").textContent = state.type ? `Jobs of type ${state.type}` : "All jobs";
  document.title = `${byId("title").textContent} – UWS`;
  document.body.classList.toggle("one-type", Boolean(state.type));
  byId("new").href = page("create.html", { type: state.type });
  const boxes = PHASES.map((phase) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "phase", value: phase, checked: state.phases.includes(phase) }),
    phaseBadge(phase)));
  byId("phases").append(...boxes);
  byId("phases").addEventListener("change", () => {
    state.phases = [...byId("phases").querySelectorAll("input:checked")].map((i) => i.value);
    restart();
  });
  byId("after").value = state.after;
  showFilters();
  if (matchMedia("(max-width: 640px)").matches) byId("filter-box").open = false;
  byId("after").addEventListener("change", (e) => { state.after = e.target.value; restart(); });
  byId("size").value = String(state.size);
  byId("size").addEventListener("change", (e) => { state.size = Number(e.target.value); restart(); });
  byId("jobtype").addEventListener("change", (e) => {
    location.href = page("index.html", { type: e.target.value });
  });
  byId("clear").addEventListener("click", () => {
    state.phases = []; state.after = "";
    byId("after").value = "";
    for (const box of byId("phases").querySelectorAll("input")) box.checked = false;
    restart();
  });
  byId("filters").addEventListener("submit", (e) => e.preventDefault());
  byId("newer").addEventListener("click", () => {
    // A page opened from a link knows no cursors before its own: back to the first.
    state.before = cursors.pop() || "";
    state.page = state.before ? state.page - 1 : 0;
    saveState();
    refresh();
  });
  byId("older").addEventListener("click", () => {
    if (!nextCursor) return;
    cursors.push(state.before);
    state.before = nextCursor;
    state.page += 1;
    saveState();
    refresh();
  });
  byId("all").addEventListener("change", (e) => {
    for (const entry of rows.values()) {
      entry.box.checked = e.target.checked;
      if (e.target.checked) selected.add(entry.ref.href); else selected.delete(entry.ref.href);
    }
    showSelection();
  });
  byId("abort").addEventListener("click", () => act("Abort", (href) => uws.abortJob(href)));
  byId("delete").addEventListener("click", () => act("Delete", (href) => uws.deleteJob(href)));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  refresh();
  try {
    const names = await jobTypes();
    byId("jobtype").append(...names.map((name) => h("option", { value: name }, name)));
    byId("jobtype").value = state.type;
  } catch (error) {
    status(errorText(error), "error");
  }
}

setUp();
