// A UWS 1.1 client for web pages: list, create, run, wait for, abort and delete jobs and read
// their XML. Works with any UWS 1.1 service; needs only fetch and a DOMParser.
//
//   import { UWSClient } from "/client/static/uws.js";
//   const uws = new UWSClient();
//   const job = await uws.createJob("/rest/echo", { message: "hi" }, { run: true });
//   const done = await uws.watchJob(job.url, (j) => console.log(j.phase));
//
// A service that logs browsers in with a cookie wants a CSRF token with every change: give the
// client one (option csrfToken), and perhaps a way to the login page (option onUnauthorized).

import { FINAL, WAITABLE, errorFields, parseJob, parseJobList, parseParameters,
  parseResults } from "./uwsxml.js";

export * from "./uwsxml.js";

/** A response with an error status; ``fields`` are the parameters its message blames. */
export class UWSError extends Error {
  /** @param {number} status @param {string} message @param {string} url */
  constructor(status, message, url) {
    super(message || `HTTP ${status}`);
    this.name = "UWSError";
    this.status = status;
    this.url = url;
    /** @type {string[]} */
    this.fields = errorFields(message);
  }

  /** The error of a failed response, with its text. @param {Response} response @param {string} url */
  static async of(response, url) {
    return new UWSError(response.status, (await response.text()).trim(), url);
  }
}

/** Methods that change nothing: they go without a CSRF token. */
const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];

/**
 * Job parameters: an object (``{name: value}``) or a list of ``[name, value]`` pairs; values
 * are strings, numbers, booleans or Blobs/Files (which make the request multipart/form-data).
 * null and undefined values are left out.
 * @typedef {Object<string, any> | Array<[string, any]>} Params
 */

/** @param {Params} params @returns {URLSearchParams|FormData} */
export function encodeParams(params) {
  const pairs = (Array.isArray(params) ? params : Object.entries(params || {}))
    .filter(([, value]) => value !== null && value !== undefined);
  const hasFile = pairs.some(([, v]) => typeof Blob !== "undefined" && v instanceof Blob);
  const body = hasFile ? new FormData() : new URLSearchParams();
  for (const [name, value] of pairs) {
    body.append(name, typeof value === "object" && hasFile ? value : String(value));
  }
  return body;
}

/**
 * The page tokens (PAGE) of a Link header's relations next, prev, first and last; a link
 * without PAGE (the first page) is "", a missing one null.
 * @param {string} header @returns {{next: string|null, prev: string|null, first: string|null, last: string|null}}
 */
export function pageLinks(header) {
  const found = { next: null, prev: null, first: null, last: null };
  for (const [, url, rel] of header.matchAll(/<([^>]*)>\s*;\s*rel="(\w+)"/g)) {
    if (rel in found) found[rel] = new URL(url, "http://localhost/").searchParams.get("PAGE") || "";
  }
  return found;
}

/**
 * The URL of a job list with UWS 1.1 filters.
 * @param {string} listUrl
 * @param {{phases?: string[], after?: string|null, last?: number|null}} [filters]
 * @returns {string}
 */
export function jobListUrl(listUrl, { phases = [], after = null, last = null } = {}) {
  const query = new URLSearchParams();
  for (const phase of phases) query.append("PHASE", phase);
  if (after) query.append("AFTER", after);
  if (last) query.append("LAST", String(last));
  const text = query.toString();
  return text ? `${listUrl}${listUrl.includes("?") ? "&" : "?"}${text}` : listUrl;
}

/** Compare job refs by creation time, newest first (ties: by id, descending, as the service). */
export function newestFirst(a, b) {
  const ta = Date.parse(a.creationTime || "") || 0;
  const tb = Date.parse(b.creationTime || "") || 0;
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** @param {number} ms @param {AbortSignal} [signal] @returns {Promise<void>} */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

export class UWSClient {
  /**
   * @param {{fetch?: typeof fetch, DOMParser?: any, waitSeconds?: number,
   *   executingWaitSeconds?: number, csrfToken?: string | (() => string | Promise<string>),
   *   onUnauthorized?: (response: Response) => void}} [options]
   *   ``fetch`` and ``DOMParser`` default to the browser's; ``waitSeconds`` is the longest
   *   blocking GET that watchJob asks for (30 s), ``executingWaitSeconds`` the one it asks for
   *   while the job executes (3 s), so that progress in jobInfo is seen. ``csrfToken`` (a
   *   token, or a function that finds it, called once) goes as X-CSRF-Token with every
   *   change, for services that log browsers in with a cookie; ``onUnauthorized`` hears of
   *   every 401 (e.g. to send the user to a login page) before the request fails.
   */
  constructor(options = {}) {
    this.fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this.DOMParser = options.DOMParser || globalThis.DOMParser;
    this.waitSeconds = options.waitSeconds ?? 30;
    this.executingWaitSeconds = options.executingWaitSeconds ?? 3;
    this.csrfSource = options.csrfToken ?? "";
    this.onUnauthorized = options.onUnauthorized || null;
    /** @type {Promise<string>|null} */
    this.csrf = null;
  }

  /** The CSRF token for changes, found once (a failure to find it is tried again next time). */
  csrfToken() {
    if (this.csrf === null) {
      const source = this.csrfSource;
      this.csrf = Promise.resolve().then(() => (typeof source === "function" ? source() : source))
        .catch((error) => { this.csrf = null; throw error; });
    }
    return this.csrf;
  }

  /**
   * fetch with the page's cookies, ``X-Requested-With`` (so that a 401 makes the browser show
   * no password dialog of its own) and, on changes, the CSRF token; any status.
   * @param {string} url @param {RequestInit} [init] @returns {Promise<Response>}
   */
  async send(url, init = {}) {
    const headers = { "X-Requested-With": "XMLHttpRequest", ...(init.headers || {}) };
    if (!SAFE_METHODS.includes((init.method || "GET").toUpperCase())) {
      const token = await this.csrfToken();
      if (token) headers["X-CSRF-Token"] = token;
    }
    const response = await this.fetch(url, { credentials: "same-origin", ...init, headers });
    if (response.status === 401) this.onUnauthorized?.(response);
    return response;
  }

  /**
   * send, throwing UWSError (with the server's text) for a status >= 400.
   * @param {string} url @param {RequestInit} [init] @returns {Promise<Response>}
   */
  async request(url, init = {}) {
    const response = await this.send(url, init);
    if (!response.ok) throw await UWSError.of(response, url);
    return response;
  }

  /** @param {string} text @returns {Document} a parsed XML document */
  parseXml(text) {
    const doc = new this.DOMParser().parseFromString(text, "application/xml");
    const fault = doc.getElementsByTagName("parsererror");
    if (fault.length) throw new Error(`not well-formed XML: ${fault[0].textContent}`);
    return doc;
  }

  /** @param {string} url @param {RequestInit} [init] @returns {Promise<{doc: Document, url: string}>} */
  async xml(url, init = {}) {
    const headers = { Accept: "application/xml", ...(init.headers || {}) };
    const response = await this.request(url, { ...init, headers });
    return { doc: this.parseXml(await response.text()), url: response.url || url };
  }

  async jobAt(url, init) {
    const { doc, url: final } = await this.xml(url, init);
    return { ...parseJob(doc), url: final.split("?")[0] };
  }

  /**
   * The job list, filtered as UWS 1.1 allows; with ``last`` the newest come first.
   * @param {string} listUrl e.g. ``/rest/echo``
   * @param {{phases?: string[], after?: string|null, last?: number|null, signal?: AbortSignal}} [options]
   * @returns {Promise<import("./uwsxml.js").JobRef[]>}
   */
  async listJobs(listUrl, options = {}) {
    const { doc } = await this.xml(jobListUrl(listUrl, options), { signal: options.signal });
    return parseJobList(doc);
  }

  /**
   * One page of a job list with this service's extensions (README, "Job lists at scale"):
   * ``sort`` orders it on the server ("creationTime", "startTime" or "endTime", "-" first for
   * newest first); ``page`` is a page token that ``links`` gave (next, prev, first, last: the
   * PAGE of each, null when there is none), ``before`` the older BEFORE cursor; with the
   * ``etag`` of the page shown and ``wait`` seconds, the request returns when the list
   * changes, or after ``wait`` seconds with ``changed`` false (a 304, no body).
   * @param {string} listUrl
   * @param {{phases?: string[], after?: string|null, last?: number, before?: string|null,
   *   page?: string|null, sort?: string|null, etag?: string|null, wait?: number|null,
   *   runId?: string|null, owner?: string|null, count?: boolean, signal?: AbortSignal}} [options]
   *   ``runId``: exact, or a start and "*"
   * @returns {Promise<{changed: boolean, refs: import("./uwsxml.js").JobRef[] | null,
   *   next: string|null, links: Object<string, string|null>, etag: string|null,
   *   total: string|null}>}
   */
  async listPage(listUrl, { phases = [], after = null, last = 25, before = null, page = null,
    sort = null, etag = null, wait = null, runId = null, owner = null, count = false, signal } = {}) {
    const query = new URLSearchParams();
    if (sort) query.append("SORT", sort);
    if (page) query.append("PAGE", page);
    else if (before) query.append("BEFORE", before);
    if (runId) query.append("RUNID", runId);
    if (owner) query.append("OWNER", owner);
    if (count) query.append("COUNT", "true");
    if (wait !== null) query.append("WAIT", String(wait));
    const extra = query.toString();
    const url = jobListUrl(listUrl, { phases, after, last }) + (extra ? `&${extra}` : "");
    const headers = { Accept: "application/xml" };
    if (etag) headers["If-None-Match"] = etag;
    // no-store: the page's own If-None-Match decides, and a 304 reaches this code as one.
    const response = await this.send(url, { headers, signal, cache: "no-store" });
    if (response.status === 304) {
      return { changed: false, refs: null, next: null, links: {}, etag, total: null };
    }
    if (!response.ok) throw await UWSError.of(response, url);
    const links = pageLinks(response.headers.get("Link") || "");
    const refs = parseJobList(this.parseXml(await response.text()));
    // X-Total-Count: how many jobs match (COUNT=true); "10000+" above the service's limit.
    const total = response.headers.get("X-Total-Count");
    return { changed: true, refs, next: links.next, links, etag: response.headers.get("ETag"), total };
  }

  /**
   * One list across several job lists (e.g. every job type of a service): the union of their
   * filtered lists, newest first, cut to ``last``.
   * @param {string[]} listUrls
   * @param {{phases?: string[], after?: string|null, last?: number|null, signal?: AbortSignal}} [options]
   * @returns {Promise<import("./uwsxml.js").JobRef[]>}
   */
  async listJobsMerged(listUrls, options = {}) {
    const lists = await Promise.all(listUrls.map((url) => this.listJobs(url, options)));
    const merged = lists.flat().sort(newestFirst);
    return options.last ? merged.slice(0, options.last) : merged;
  }

  /**
   * @param {string} jobUrl @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<import("./uwsxml.js").Job & {url: string}>}
   */
  getJob(jobUrl, options = {}) {
    return this.jobAt(jobUrl, { signal: options.signal });
  }

  /**
   * UWS blocking GET: returns when the job changes, or after ``seconds``, or at once if the
   * job is not in ``phase`` (the phase the caller last saw, which avoids a race).
   * @param {string} jobUrl
   * @param {{seconds?: number, phase?: string|null, signal?: AbortSignal}} [options]
   */
  waitJob(jobUrl, { seconds = 30, phase = null, signal } = {}) {
    const query = new URLSearchParams({ WAIT: String(seconds) });
    if (phase) query.append("PHASE", phase);
    return this.jobAt(`${jobUrl}?${query}`, { signal });
  }

  /**
   * Create a job; returns it as the service shows it after the 303 redirect.
   * @param {string} listUrl
   * @param {Params} params job parameters
   * @param {{run?: boolean, runId?: string, executionDuration?: number|string,
   *   destruction?: string}} [control]
   */
  createJob(listUrl, params, { run = false, runId, executionDuration, destruction } = {}) {
    const pairs = Array.isArray(params) ? [...params] : Object.entries(params || {});
    const extra = [["RUNID", runId], ["EXECUTIONDURATION", executionDuration],
      ["DESTRUCTION", destruction], ["PHASE", run ? "RUN" : null]];
    for (const [name, value] of extra) {
      if (value !== undefined && value !== null && value !== "") pairs.push([name, value]);
    }
    return this.jobAt(listUrl, { method: "POST", body: encodeParams(pairs) });
  }

  /**
   * POST to a job: parameter changes (PENDING only), RUNID, EXECUTIONDURATION, DESTRUCTION.
   * @param {string} jobUrl @param {Params} params
   */
  updateJob(jobUrl, params) {
    return this.jobAt(jobUrl, { method: "POST", body: encodeParams(params) });
  }

  /** @param {string} jobUrl */
  runJob(jobUrl) {
    return this.jobAt(`${jobUrl}/phase`, { method: "POST", body: encodeParams({ PHASE: "RUN" }) });
  }

  /** @param {string} jobUrl */
  abortJob(jobUrl) {
    return this.jobAt(`${jobUrl}/phase`, { method: "POST", body: encodeParams({ PHASE: "ABORT" }) });
  }

  /** @param {string} jobUrl @param {number|string} seconds */
  setExecutionDuration(jobUrl, seconds) {
    const body = encodeParams({ EXECUTIONDURATION: seconds });
    return this.jobAt(`${jobUrl}/executionduration`, { method: "POST", body });
  }

  /** @param {string} jobUrl @param {string} time ISO 8601 */
  setDestruction(jobUrl, time) {
    return this.jobAt(`${jobUrl}/destruction`, { method: "POST", body: encodeParams({ DESTRUCTION: time }) });
  }

  /** Delete a job (HTTP DELETE). @param {string} jobUrl @returns {Promise<void>} */
  async deleteJob(jobUrl) {
    const response = await this.request(jobUrl, { method: "DELETE" });
    await response.arrayBuffer();
  }

  /** @param {string} jobUrl @returns {Promise<string>} the phase, as text */
  async getPhase(jobUrl) {
    return (await (await this.request(`${jobUrl}/phase`)).text()).trim();
  }

  /** @param {string} jobUrl @returns {Promise<string>} the text of the job's /error */
  async getError(jobUrl) {
    return (await this.request(`${jobUrl}/error`)).text();
  }

  /** @param {string} jobUrl */
  async getParameters(jobUrl) {
    return parseParameters((await this.xml(`${jobUrl}/parameters`)).doc);
  }

  /** @param {string} jobUrl */
  async getResults(jobUrl) {
    return parseResults((await this.xml(`${jobUrl}/results`)).doc);
  }

  /**
   * The start of a text resource (a result, stdout, ...), read with a Range request.
   * @param {string} url @param {{maxBytes?: number, signal?: AbortSignal}} [options]
   * @returns {Promise<{text: string, truncated: boolean, type: string}>}
   */
  async getText(url, { maxBytes = 65536, signal } = {}) {
    const headers = { Range: `bytes=0-${maxBytes - 1}` };
    const response = await this.send(url, { headers, signal });
    if (response.status === 416) return { text: "", truncated: false, type: "" }; // empty file
    if (!response.ok) throw await UWSError.of(response, url);
    const buffer = await response.arrayBuffer();
    const total = /\/(\d+)$/.exec(response.headers.get("Content-Range") || "");
    const truncated = buffer.byteLength > maxBytes || (total !== null && Number(total[1]) > maxBytes);
    const text = new TextDecoder("utf-8").decode(buffer.slice(0, maxBytes));
    return { text, truncated, type: response.headers.get("Content-Type") || "" };
  }

  /**
   * Follow a job with blocking GETs until it reaches a final phase (or ``signal`` aborts):
   * ``onChange`` sees every version of the job that differs from the last one. A phase change
   * ends a wait at once; an executing job is waited for in short steps (its jobInfo, e.g.
   * progress, changes without a phase change). When the service returns early without a
   * change (as UWS allows under load), waits back off.
   * @param {string} jobUrl
   * @param {(job: any) => void} [onChange]
   * @param {{signal?: AbortSignal, seconds?: number}} [options]
   * @returns {Promise<any>} the last version of the job seen
   */
  async watchJob(jobUrl, onChange = () => {}, { signal, seconds = this.waitSeconds } = {}) {
    let job = await this.getJob(jobUrl, { signal });
    onChange(job);
    let pause = 0;
    while (!signal?.aborted && !FINAL.includes(job.phase)) {
      const started = Date.now();
      const wait = job.phase === "EXECUTING" ? Math.min(seconds, this.executingWaitSeconds) : seconds;
      const next = WAITABLE.includes(job.phase)
        ? await this.waitJob(jobUrl, { seconds: wait, phase: job.phase, signal })
        : (await sleep(Math.max(pause, 2000), signal), await this.getJob(jobUrl, { signal }));
      if (JSON.stringify(next) !== JSON.stringify(job)) {
        pause = 0;
        onChange(next);
      } else if (Date.now() - started < 1000) {
        pause = Math.min(Math.max(pause * 2, 500), 10000);
        await sleep(pause, signal);
      }
      job = next;
    }
    return job;
  }
}
