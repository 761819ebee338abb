// Reading UWS 1.1 XML documents (job, job list, parameters, results) into plain objects.
// Pure functions over a parsed DOM document: they use only childNodes, nodeType, localName,
// namespaceURI, getAttribute, getAttributeNS and textContent, so any DOMParser will do.

export const UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0";
export const XLINK_NS = "http://www.w3.org/1999/xlink";
export const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
/** Attributes of this server beyond UWS 1.1 (a result's description). */
export const CUSTOM_NS = "urn:uwscustom";

/** Every UWS 1.1 phase. */
export const PHASES = Object.freeze([
  "PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED",
  "UNKNOWN", "HELD", "SUSPENDED", "ARCHIVED",
]);
/** Phases in which a blocking GET (WAIT) may block. */
export const WAITABLE = Object.freeze(["PENDING", "QUEUED", "EXECUTING"]);
/** Phases a job never leaves. */
export const FINAL = Object.freeze(["COMPLETED", "ERROR", "ABORTED", "ARCHIVED"]);

/**
 * @typedef {{id: string, href: string, phase: string, runId: string|null,
 *   ownerId: string|null, creationTime: string|null}} JobRef
 * @typedef {{id: string, value: string, byReference: boolean}} Parameter
 * @typedef {{id: string, href: string, size: number|null, mimeType: string|null,
 *   description: string|null}} Result
 * @typedef {{type: string, hasDetail: boolean, message: string}} ErrorSummary
 * @typedef {{jobId: string, runId: string|null, ownerId: string|null, phase: string,
 *   quote: string|null, creationTime: string|null, startTime: string|null,
 *   endTime: string|null, executionDuration: number|null, destruction: string|null,
 *   parameters: Parameter[], results: Result[], errorSummary: ErrorSummary|null,
 *   jobInfo: Object<string, string>|null}} Job
 */

/** @param {any} node @returns {any[]} the element children of ``node`` */
export function elements(node) {
  return Array.from(node.childNodes || []).filter((n) => n.nodeType === 1);
}

function child(node, name) {
  return elements(node).find((n) => n.localName === name) || null;
}

function isNil(node) {
  return node.getAttributeNS(XSI_NS, "nil") === "true";
}

/** The text of the child ``name``; null when it is absent or xsi:nil. */
function textOf(node, name) {
  const found = child(node, name);
  return found === null || isNil(found) ? null : found.textContent;
}

function root(doc, name) {
  const element = doc.documentElement;
  if (!element || element.localName !== name || element.namespaceURI !== UWS_NS) {
    const got = element ? `{${element.namespaceURI || ""}}${element.localName}` : "nothing";
    throw new Error(`expected a UWS ${name} document, got ${got}`);
  }
  return element;
}

function href(node) {
  return node.getAttributeNS(XLINK_NS, "href") || node.getAttribute("xlink:href") || "";
}

/** @param {any} doc a parsed ``uws:jobs`` document @returns {JobRef[]} */
export function parseJobList(doc) {
  return elements(root(doc, "jobs"))
    .filter((n) => n.localName === "jobref")
    .map((ref) => ({
      id: ref.getAttribute("id"),
      href: href(ref),
      phase: textOf(ref, "phase"),
      runId: textOf(ref, "runId"),
      ownerId: textOf(ref, "ownerId"),
      creationTime: textOf(ref, "creationTime"),
    }));
}

function parameters(node) {
  return elements(node)
    .filter((n) => n.localName === "parameter")
    .map((p) => ({
      id: p.getAttribute("id"),
      value: p.textContent,
      byReference: p.getAttribute("byReference") === "true",
    }));
}

function results(node) {
  return elements(node)
    .filter((n) => n.localName === "result")
    .map((r) => {
      const size = r.getAttribute("size");
      return {
        id: r.getAttribute("id"),
        href: href(r),
        size: size === null || size === "" ? null : Number(size),
        mimeType: r.getAttribute("mime-type") || null,
        description: r.getAttributeNS(CUSTOM_NS, "description") || null,
      };
    });
}

/** @param {any} doc a parsed ``uws:parameters`` document @returns {Parameter[]} */
export function parseParameters(doc) {
  return parameters(root(doc, "parameters"));
}

/** @param {any} doc a parsed ``uws:results`` document @returns {Result[]} */
export function parseResults(doc) {
  return results(root(doc, "results"));
}

function jobInfo(node) {
  if (node === null) return null;
  /** @type {Object<string, string>} */
  const info = {};
  for (const item of elements(node)) {
    const key = item.localName === "item" && item.getAttribute("key") !== null
      ? item.getAttribute("key") : item.localName;
    info[key] = item.textContent;
  }
  return info;
}

/** @param {any} doc a parsed ``uws:job`` document @returns {Job} */
export function parseJob(doc) {
  const job = root(doc, "job");
  const error = child(job, "errorSummary");
  const duration = textOf(job, "executionDuration");
  return {
    jobId: textOf(job, "jobId"),
    runId: textOf(job, "runId"),
    ownerId: textOf(job, "ownerId"),
    phase: textOf(job, "phase"),
    quote: textOf(job, "quote"),
    creationTime: textOf(job, "creationTime"),
    startTime: textOf(job, "startTime"),
    endTime: textOf(job, "endTime"),
    executionDuration: duration === null ? null : Number(duration),
    destruction: textOf(job, "destruction"),
    parameters: parameters(child(job, "parameters") || { childNodes: [] }),
    results: results(child(job, "results") || { childNodes: [] }),
    errorSummary: error === null ? null : {
      type: error.getAttribute("type") || "fatal",
      hasDetail: error.getAttribute("hasDetail") === "true",
      message: textOf(error, "message") || "",
    },
    jobInfo: jobInfo(child(job, "jobInfo")),
  };
}

/**
 * The progress a job reports in its jobInfo (``progress``: a fraction, or a percentage),
 * as a fraction between 0 and 1; null when it reports none.
 * @param {{jobInfo: Object<string, string>|null}} job @returns {number|null}
 */
export function jobProgress(job) {
  const raw = job?.jobInfo?.progress;
  if (raw === undefined || raw === null || String(raw).trim() === "") return null;
  const value = Number.parseFloat(String(raw).replace("%", ""));
  if (!Number.isFinite(value)) return null;
  const fraction = String(raw).includes("%") || value > 1 ? value / 100 : value;
  return Math.min(Math.max(fraction, 0), 1);
}

/**
 * The names of the parameters that a UWS error message blames (as this service words them).
 * @param {string} message the text/plain body of a 400 response
 * @returns {string[]}
 */
export function errorFields(message) {
  const text = String(message || "");
  let match = /Invalid value for parameter ([^\s(:]+)/.exec(text);
  if (match) return [match[1]];
  match = /Missing required parameter\(s\): ([^\n]+)/.exec(text);
  if (match) return splitNames(match[1]);
  match = /Unknown parameter\(s\) (.+?) for job type/.exec(text);
  if (match) return splitNames(match[1]);
  match = /Parameter (\S+) is given more than once/.exec(text);
  if (match) return [match[1]];
  match = /^(PHASE|RUNID|EXECUTIONDURATION|DESTRUCTION) /.exec(text);
  return match ? [match[1]] : [];
}

function splitNames(list) {
  return list.split(",").map((s) => s.trim()).filter(Boolean);
}
