// The job list page: filters, keyset pages, live updates, abort and delete of a selection.
// One request per page and one per change: the page waits on the list (WAIT with its ETag)
// instead of polling it, pages by the page tokens of the service's Link header (README, "Job
// lists at scale"), so page 400 of 100,000 jobs (or the last one) costs what page 1 does, and
// sorts by creation, start or end time on the service. The filters live in the URL.
import { FINAL, PHASES, sleep } from "../uws.js";
import { byId, confirmDialog, h, replace, status } from "./dom.js";
import { clientConfig, descriptions, durationSeconds, errorText, header, listUrl, page, params,
  phaseBadge, spanText, splitJobUrl, timeText, uws } from "./common.js";

/** After a failed request, wait this long before the next. */
const RETRY_MS = 4000;
/** Seconds each wait for a change of the list lasts (the server may end it sooner). */
const WAIT_S = 60;
/** Relative times and running durations are redrawn this often. */
const CLOCK_MS = 15000;
/** Columns the list sorts by: the times on the service (SORT), the others on the page. */
const SORTS = ["phase", "created", "started", "ended", "duration"];
const SERVER_SORTS = { created: "creationTime", started: "startTime", ended: "endTime" };
const sortParam = params.get("sort") || "";
const state = {
  type: params.get("type") || "",
  phases: params.getAll("phase").filter((p) => PHASES.includes(p)),
  after: params.get("after") || "",
  runId: params.get("runid") || "",
  owner: params.get("owner") || "",
  size: Number(params.get("size")) || 25,
  // The page token (PAGE) of the page shown; an older link's BEFORE cursor is the same page.
  at: params.get("at") || (params.get("before") ? `next:${params.get("before")}` : ""),
  // 0: a page counted back from the last one, its number unknown (no exact total).
  page: Math.max(Number(params.get("page")) || (params.get("at") ? 0 : 1), 0),
  sort: SORTS.includes(sortParam.replace(/^-/, "")) ? sortParam : "",
};
/** The page tokens of the pages around this one (the Link header's), and the total. */
let links = {};
let total = null;
let controller = null;
/** href -> {row, ref, cells}; details: href -> the job's start and end (fetched per row). */
const rows = new Map();
const details = new Map();
const selected = new Set();
let shown = [];
let typeNames = null;
let generation = 0;

/** The URL query of the current filters (and, unless ``filtersOnly``, of the page). */
function query(filtersOnly = false) {
  const pairs = [["type", state.type], ["runid", state.runId], ["owner", state.owner],
    ["after", state.after], ["size", state.size === 25 ? "" : state.size], ["sort", state.sort],
    ...state.phases.map((p) => ["phase", p])];
  if (!filtersOnly) pairs.push(["page", state.page > 1 ? state.page : ""], ["at", state.at]);
  return new URLSearchParams(pairs.filter(([, v]) => v !== "")).toString();
}

function showFilters() {
  const active = [state.runId && `Run ID ${state.runId}…`, ...state.phases, state.owner && `owner ${state.owner}`,
    state.after && `after ${state.after.replace("T", " ")}`].filter(Boolean);
  byId("filter-summary").textContent = active.length ? `Filters: ${active.join(", ")}` : "Filters";
  for (const chip of byId("phases").children) {
    chip.setAttribute("aria-pressed", String(state.phases.includes(chip.value)));
  }
}

function saveState() {
  showFilters();
  const text = query();
  history.replaceState(null, "", text ? `index.html?${text}` : "index.html");
}

/** The row's main label: its Run ID, the job id beside it (or the id alone). */
function label(ref) {
  return ref.runId ? ref.runId : ref.id;
}

function makeRow(ref) {
  const where = splitJobUrl(ref.href) || { type: state.type, id: ref.id };
  const box = h("input", {
    type: "checkbox", "aria-label": `Select job ${label(ref)}`, checked: selected.has(ref.href),
    onchange: (event) => {
      if (event.target.checked) selected.add(ref.href); else selected.delete(ref.href);
      showSelection();
    },
  });
  const cell = (name, extra = {}) => h("td", { "data-label": name, ...extra });
  const cells = {
    job: cell("Job"), owner: cell("Owner", { class: "col-owner" }), phase: cell("Phase"),
    created: cell("Created"), started: cell("Started"), ended: cell("Ended"), duration: cell("Duration"),
  };
  const row = h("tr", { "data-href": ref.href, "data-phase": ref.phase },
    h("td", { class: "select" }, box), cells.job,
    h("td", { "data-label": "Type", class: "col-type" }, where.type),
    cells.owner, cells.phase, cells.created, cells.started, cells.ended, cells.duration);
  return { row, box, cells, where, ref: null };
}

/** Fill a cell; an empty one is marked so that phones leave it out. */
function fill(cellNode, empty, ...content) {
  replace(cellNode, ...content);
  if (empty) cellNode.dataset.empty = ""; else delete cellNode.dataset.empty;
}

function updateRow(entry, ref) {
  const old = entry.ref;
  if (!old || old.phase !== ref.phase) {
    replace(entry.cells.phase, phaseBadge(ref.phase));
    entry.row.dataset.phase = ref.phase;
  }
  if (!old || old.runId !== ref.runId) {
    const link = h("a", { href: page("job.html", entry.where), class: "label" },
      h("span", { class: "runid" }, label(ref)));
    replace(entry.cells.job, link, ref.runId ? h("span", { class: "jobid" }, ref.id) : null);
  }
  if (!old || old.ownerId !== ref.ownerId) fill(entry.cells.owner, !ref.ownerId, ref.ownerId || "—");
  fill(entry.cells.created, false, timeText(ref.creationTime, { relative: true }));
  const detail = details.get(ref.href);
  const loading = detail ? null : "…";
  fill(entry.cells.started, detail && !detail.startTime, loading || timeText(detail.startTime, { relative: true }));
  fill(entry.cells.ended, detail && !detail.endTime, loading || timeText(detail.endTime, { relative: true }));
  const seconds = detail ? durationSeconds(detail.startTime, detail.endTime) : null;
  fill(entry.cells.duration, detail && seconds === null, loading || (seconds === null ? "—"
    : h("span", { title: detail.endTime ? "total" : "so far" },
      spanText(seconds), detail.endTime ? null : h("span", { class: "muted" }, " so far"))));
  entry.ref = ref;
}

/** The sort key of a row for the page's sort column. */
function sortKey(ref, column) {
  const detail = details.get(ref.href) || {};
  const time = (iso) => (iso ? new Date(iso).getTime() : -Infinity);
  if (column === "phase") return PHASES.indexOf(ref.phase);
  if (column === "created") return time(ref.creationTime);
  if (column === "started") return time(detail.startTime);
  if (column === "ended") return time(detail.endTime);
  return durationSeconds(detail.startTime, detail.endTime) ?? -Infinity;
}

/** The service's SORT for the list's sort column, null for UWS's newest first. */
function serverSort() {
  const column = state.sort.replace(/^-/, "");
  if (!state.sort || !SERVER_SORTS[column]) return null;
  return `${state.sort.startsWith("-") ? "-" : ""}${SERVER_SORTS[column]}`;
}

function sorted(refs) {
  if (!state.sort || serverSort()) return refs;
  const column = state.sort.replace(/^-/, "");
  const sign = state.sort.startsWith("-") ? -1 : 1;
  // Stable: rows with equal keys stay newest first.
  return [...refs].sort((a, b) => sign * (sortKey(a, column) - sortKey(b, column)));
}

function showSortHeaders() {
  for (const th of document.querySelectorAll("#jobs th[data-sort]")) {
    const column = th.dataset.sort;
    const sort = state.sort || "-created";
    const which = sort.replace(/^-/, "") === column ? (sort.startsWith("-") ? "descending" : "ascending") : null;
    if (which) th.setAttribute("aria-sort", which); else th.removeAttribute("aria-sort");
    th.querySelector("button .arrow").textContent = which === "ascending" ? " ▲" : which ? " ▼" : "";
  }
  const column = (state.sort || "-created").replace(/^-/, "");
  const order = (state.sort || "-created").startsWith("-") ? "newest first" : "oldest first";
  // By start or end time the service lists the jobs that have one.
  const which = { created: "Jobs", started: "Jobs that started", ended: "Jobs that ended" }[column];
  byId("caption").textContent = serverSort() || !state.sort
    ? `${which}, ${order} by ${column === "created" ? "creation" : column.replace(/ed$/, "")} time`
    : `Jobs, this page sorted by ${column}`;
}

function render(refs) {
  shown = refs;
  const tbody = byId("jobs").tBodies[0];
  const wanted = new Set(refs.map((r) => r.href));
  for (const [href, entry] of rows) {
    if (!wanted.has(href)) { entry.row.remove(); rows.delete(href); }
  }
  sorted(refs).forEach((ref, index) => {
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

/** Fetch the shown jobs that changed (start and end times are not in UWS job lists), 4 at a time. */
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
  if (mine === generation && state.sort && !serverSort()) render(shown);
}

/** The service's job types (for the type menu). */
async function jobTypes() {
  typeNames ??= descriptions.list().then((answer) => answer.jobTypes.map((t) => t.name))
    .catch((error) => { typeNames = null; throw error; });
  return typeNames;
}

/** How many pages the list has, when the count is exact. */
function pageCount() {
  const exact = total !== null && !total.endsWith("+");
  return exact ? Math.max(1, Math.ceil(Number(total) / state.size)) : null;
}

function showPager() {
  byId("older").disabled = byId("last").disabled = links.next === null || links.next === undefined;
  byId("newer").disabled = byId("first").disabled = !links.prev;
  const pages = pageCount();
  // Counted back from the last page when the total is not exact: no number then.
  const number = state.page > 0 ? String(state.page) : "";
  byId("pageno").textContent = state.at === "last" && !pages ? "Last page"
    : `Page ${number || "…"}${pages ? ` of ${pages}` : ""}`;
  if (total !== null) {
    byId("total").textContent = `${total} job${total === "1" ? "" : "s"}`;
  }
}

/** Show the page, then wait for its changes until the filters, the page or the tab change. */
async function refresh() {
  const mine = ++generation;
  controller?.abort();
  controller = new AbortController();
  const runId = state.runId && (state.runId.endsWith("*") ? state.runId : `${state.runId}*`);
  const options = {
    phases: state.phases, after: state.after ? new Date(state.after).toISOString() : null,
    last: state.size, page: state.at || null, sort: serverSort(), signal: controller.signal,
    runId, owner: state.owner || null, count: true,
  };
  let etag = null;
  while (mine === generation && !document.hidden) {
    try {
      const answer = await uws.listPage(listUrl(state.type || null),
        { ...options, etag, wait: etag ? WAIT_S : null });
      if (mine !== generation) return;
      if (!answer.changed) continue;
      etag = answer.etag;
      links = answer.links;
      total = answer.total;
      if (!links.prev && state.page !== 1) {
        // The service gave the first page (fewer jobs than a page were before this one).
        state.page = 1;
        state.at = "";
        saveState();
      } else if (state.at === "last" && pageCount()) {
        state.page = pageCount();
        saveState();
      }
      render(answer.refs);
      showPager();
      byId("updated").textContent = `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
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

/** The names of jobs for a dialog or a message: their Run IDs (or ids), the first few. */
function names(hrefs, most = 8) {
  const text = hrefs.slice(0, most).map((href) => {
    const ref = rows.get(href)?.ref;
    return ref ? label(ref) : href.split("/").pop();
  });
  return hrefs.length > most ? [...text, `and ${hrefs.length - most} more`] : text;
}

/** Abort or delete the selection; report what was done and, per job, what was refused. */
async function act(verb) {
  const hrefs = [...selected];
  if (verb === "Delete") {
    const list = h("ul", { class: "names" }, names(hrefs).map((n) => h("li", {}, n)));
    if (!(await confirmDialog(`Delete ${hrefs.length} job${hrefs.length === 1 ? "" : "s"} and their results?`,
      "Delete", list))) return;
  }
  const failures = [];
  let done = 0;
  for (const href of hrefs) {
    const name = names([href])[0];
    try {
      if (verb === "Delete") {
        await uws.deleteJob(href);
        done += 1;
      } else {
        const job = await uws.abortJob(href);
        // A job that had already ended stays as it was: not counted as aborted.
        if (job.phase === "ABORTED") done += 1; else failures.push(`${name}: not aborted, it is ${job.phase}`);
      }
    } catch (error) {
      failures.push(`${name}: ${errorText(error)}`);
    }
    selected.delete(href);
  }
  for (const entry of rows.values()) entry.box.checked = selected.has(entry.ref.href);
  const summary = `${verb === "Delete" ? "Deleted" : "Aborted"}: ${done} job${done === 1 ? "" : "s"}.`;
  status(failures.length ? [`${summary} ${failures.length} not:`,
    h("ul", { class: "failures" }, failures.map((f) => h("li", {}, f)))] : summary,
  failures.length ? "error" : "info");
  refresh();
}

function restart() {
  state.page = 1;
  state.at = "";
  saveState();
  for (const entry of rows.values()) entry.row.remove();
  rows.clear();
  selected.clear();
  refresh();
}

function sortBy(column) {
  const current = state.sort || "-created";
  const times = column !== "phase";
  // First click: newest / longest / phase order first; the next one reverses.
  const first = times ? `-${column}` : column;
  const reverse = first.startsWith("-") ? column : `-${column}`;
  state.sort = current === first ? reverse : first;
  if (state.sort === "-created") state.sort = "";
  showSortHeaders();
  if (SERVER_SORTS[column]) restart(); else { saveState(); render(shown); }
}

function setUpFilters() {
  byId("phases").append(...PHASES.map((phase) => h("button", {
    type: "button", class: "chip", value: phase, "aria-pressed": "false",
    onclick: () => {
      state.phases = state.phases.includes(phase) ? state.phases.filter((p) => p !== phase)
        : [...state.phases, phase];
      restart();
    },
  }, phaseBadge(phase))));
  byId("after").value = state.after;
  byId("runid").value = state.runId;
  byId("owner").value = state.owner;
  showFilters();
  // Open only when some filter is set: the first job is then a few Tab presses away.
  byId("filter-box").open = Boolean(state.runId || state.phases.length || state.after || state.owner);
  byId("after").addEventListener("change", (e) => { state.after = e.target.value; restart(); });
  let typing = null;
  for (const key of ["runId", "owner"]) {
    byId(key.toLowerCase()).addEventListener("input", (e) => {
      clearTimeout(typing);
      typing = setTimeout(() => { state[key] = e.target.value.trim(); restart(); }, 300);
    });
  }
  byId("size").value = String(state.size);
  byId("size").addEventListener("change", (e) => { state.size = Number(e.target.value); restart(); });
  byId("jobtype").addEventListener("change", (e) => {
    // Another type is another list: its page starts again, the other filters stay.
    state.type = e.target.value;
    const text = query(true);
    location.href = text ? `index.html?${text}` : "index.html";
  });
  byId("clear").addEventListener("click", () => {
    state.phases = []; state.after = ""; state.runId = ""; state.owner = "";
    byId("after").value = byId("runid").value = byId("owner").value = "";
    restart();
  });
  byId("filters").addEventListener("submit", (e) => e.preventDefault());
}

/** Go to the page of a token the service gave, numbered ``page`` (0: unknown). */
function goTo(token, page) {
  if (token === null || token === undefined) return;
  state.at = token;
  state.page = token ? page : 1;
  saveState();
  refresh();
}

function setUpPager() {
  byId("first").addEventListener("click", () => restart());
  // Page numbers of pages reached backwards from the last one are known with the total only.
  byId("newer").addEventListener("click", () => goTo(links.prev, state.page > 1 ? state.page - 1 : 0));
  byId("older").addEventListener("click", () => goTo(links.next, state.page > 0 ? state.page + 1 : 0));
  byId("last").addEventListener("click", () => goTo(links.last, pageCount() || 0));
}

async function setUp() {
  // A second skip link: past the filters and the column headers, to the first job.
  header("jobs", state.type || null, [["#rows", "Skip to the jobs"]]);
  byId("title").textContent = state.type ? `Jobs of type ${state.type}` : "All jobs";
  document.title = `${byId("title").textContent} – UWS`;
  document.body.classList.toggle("one-type", Boolean(state.type));
  setUpFilters();
  setUpPager();
  for (const th of document.querySelectorAll("#jobs th[data-sort]")) {
    const text = th.textContent;
    replace(th, h("button", { type: "button", class: "sort", onclick: () => sortBy(th.dataset.sort) },
      text, h("span", { class: "arrow", "aria-hidden": "true" })));
  }
  showSortHeaders();
  byId("all").addEventListener("change", (e) => {
    for (const entry of rows.values()) {
      entry.box.checked = e.target.checked;
      if (e.target.checked) selected.add(entry.ref.href); else selected.delete(entry.ref.href);
    }
    showSelection();
  });
  byId("abort").addEventListener("click", () => act("Abort"));
  byId("delete").addEventListener("click", () => act("Delete"));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  setInterval(() => { if (!document.hidden) render(shown); }, CLOCK_MS);
  refresh();
  clientConfig().then((config) => document.body.classList.toggle("admin", Boolean(config.admin)))
    .catch(() => {});
  try {
    const found = await jobTypes();
    byId("jobtype").append(...found.map((name) => h("option", { value: name }, name)));
    byId("jobtype").value = state.type;
  } catch (error) {
    status(errorText(error), "error");
  }
}

setUp();
