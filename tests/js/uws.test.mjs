// Unit tests of the JavaScript UWS library (Node's test runner; DOMParser from minidom.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { DOMParser } from "./minidom.js";
import {
  UWSClient, UWSError, encodeParams, errorFields, jobListUrl, jobProgress, newestFirst,
  parseJob, parseJobList, parseParameters, parseResults,
} from "../../uws_pyramid/client/static/uws.js";
import { parseDelimited, votableRows } from "../../uws_pyramid/client/static/app/tables.js";

const NS = 'xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" xmlns:xlink="http://www.w3.org/1999/xlink" '
  + 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
const BASE = "http://uws.test/rest/echo";

function jobXml({ phase = "PENDING", id = "j1", extra = "", info = "" } = {}) {
  return `<?xml version="1.0"?>\n<uws:job ${NS} version="1.1"><uws:jobId>${id}</uws:jobId>`
    + `<uws:runId>my &lt;run&gt;</uws:runId><uws:ownerId xsi:nil="true"/><uws:phase>${phase}</uws:phase>`
    + '<uws:quote xsi:nil="true"/><uws:creationTime>2026-11-23T09:15:35.123Z</uws:creationTime>'
    + '<uws:startTime xsi:nil="true"/><uws:endTime xsi:nil="true"/>'
    + "<uws:executionDuration>60</uws:executionDuration>"
    + "<uws:destruction>2026-11-30T09:15:35Z</uws:destruction>"
    + '<uws:parameters><uws:parameter id="message">&lt;img src=x onerror=alert(1)&gt;</uws:parameter>'
    + `<uws:parameter id="infile" byReference="true">${BASE}/${id}/parameters/infile</uws:parameter></uws:parameters>`
    + `<uws:results><uws:result id="output" xlink:href="${BASE}/${id}/results/output" size="6" mime-type="text/plain"/></uws:results>`
    + `${extra}${info}</uws:job>`;
}

const parse = (text) => new DOMParser().parseFromString(text, "application/xml");

/** A fake fetch: ``routes`` maps "METHOD path" to a function returning [status, body, headers]. */
function fakeFetch(routes, calls = []) {
  return async (url, init = {}) => {
    const method = init.method || "GET";
    calls.push({ url, method, init });
    const path = new URL(url).pathname + new URL(url).search;
    const handler = routes[`${method} ${path}`] || routes[`${method} ${new URL(url).pathname}`];
    const [status, body, headers = {}, finalUrl = url] = handler ? handler(init) : [404, "not found: " + path];
    const response = new Response([204, 304].includes(status) ? null : body, { status, headers });
    Object.defineProperty(response, "url", { value: finalUrl });
    return response;
  };
}

test("parseJob reads every property, nil elements as null, values as text", () => {
  const info = '<uws:jobInfo><progress>0.25</progress><item key="odd key">v</item></uws:jobInfo>';
  const extra = '<uws:errorSummary type="transient" hasDetail="true"><uws:message>bad &amp; worse</uws:message></uws:errorSummary>';
  const job = parseJob(parse(jobXml({ extra, info })));
  assert.equal(job.jobId, "j1");
  assert.equal(job.runId, "my <run>");
  assert.equal(job.ownerId, null);
  assert.equal(job.phase, "PENDING");
  assert.equal(job.quote, null);
  assert.equal(job.creationTime, "2026-11-23T09:15:35.123Z");
  assert.equal(job.startTime, null);
  assert.equal(job.executionDuration, 60);
  assert.deepEqual(job.parameters[0], { id: "message", value: "<img src=x onerror=alert(1)>", byReference: false });
  assert.equal(job.parameters[1].byReference, true);
  assert.deepEqual(job.results, [{ id: "output", href: `${BASE}/j1/results/output`, size: 6, mimeType: "text/plain", description: null }]);
  assert.deepEqual(job.errorSummary, { type: "transient", hasDetail: true, message: "bad & worse" });
  assert.deepEqual(job.jobInfo, { progress: "0.25", "odd key": "v" });
  assert.equal(jobProgress(job), 0.25);
});

test("parseJobList, parseResults and parseParameters read their documents", () => {
  const list = `<uws:jobs ${NS} version="1.1"><uws:jobref id="a" xlink:href="${BASE}/a"><uws:phase>QUEUED</uws:phase>`
    + '<uws:ownerId xsi:nil="true"/><uws:creationTime>2026-01-01T00:00:00Z</uws:creationTime></uws:jobref>'
    + `<uws:jobref id="b" xlink:href="${BASE}/b"><uws:phase>ERROR</uws:phase><uws:runId>r</uws:runId>`
    + "<uws:ownerId>me</uws:ownerId><uws:creationTime>2026-01-02T00:00:00Z</uws:creationTime></uws:jobref></uws:jobs>";
  assert.deepEqual(parseJobList(parse(list)), [
    { id: "a", href: `${BASE}/a`, phase: "QUEUED", runId: null, ownerId: null, creationTime: "2026-01-01T00:00:00Z" },
    { id: "b", href: `${BASE}/b`, phase: "ERROR", runId: "r", ownerId: "me", creationTime: "2026-01-02T00:00:00Z" },
  ]);
  assert.deepEqual(parseJobList(parse(`<uws:jobs ${NS}/>`)), []);
  const results = parseResults(parse(`<uws:results ${NS}><uws:result id="x" xlink:href="u"/>`
    + '<uws:result id="y" xlink:href="v" xmlns:uwsc="urn:uwscustom" uwsc:description="a &lt;b&gt; map"/></uws:results>'));
  assert.deepEqual(results, [
    { id: "x", href: "u", size: null, mimeType: null, description: null },
    { id: "y", href: "v", size: null, mimeType: null, description: "a <b> map" },
  ]);
  const params = parseParameters(parse(`<uws:parameters ${NS}><uws:parameter id="p">1</uws:parameter></uws:parameters>`));
  assert.deepEqual(params, [{ id: "p", value: "1", byReference: false }]);
  assert.throws(() => parseJob(parse(list)), /expected a UWS job document/);
  assert.throws(() => parseJobList(parse("<jobs/>")), /expected a UWS jobs document/);
});

test("errorFields finds the parameters that the service's messages blame", () => {
  const cases = [
    ["Invalid value for parameter duration (got 'x'): expected an integer between 0 and 3600", ["duration"]],
    ["Invalid value for parameter EXECUTIONDURATION (got '-5'): expected seconds", ["EXECUTIONDURATION"]],
    ["Invalid value for parameter DESTRUCTION: expected a time", ["DESTRUCTION"]],
    ["Missing required parameter(s): infile, other", ["infile", "other"]],
    ["Unknown parameter(s) colour, size for job type echo; accepted parameters: message", ["colour", "size"]],
    ["Parameter message is given more than once", ["message"]],
    ["job x is COMPLETED: only a PENDING job can be changed", []],
    ["", []],
  ];
  for (const [message, fields] of cases) assert.deepEqual(errorFields(message), fields, message);
});

test("jobProgress accepts fractions and percentages and ignores the rest", () => {
  assert.equal(jobProgress({ jobInfo: { progress: "0.500" } }), 0.5);
  assert.equal(jobProgress({ jobInfo: { progress: "40%" } }), 0.4);
  assert.equal(jobProgress({ jobInfo: { progress: "75" } }), 0.75);
  assert.equal(jobProgress({ jobInfo: { progress: "soon" } }), null);
  assert.equal(jobProgress({ jobInfo: null }), null);
});

test("encodeParams and jobListUrl build UWS requests", () => {
  const form = encodeParams([["a", "x y"], ["a", 2], ["skip", null], ["b", true]]);
  assert.ok(form instanceof URLSearchParams);
  assert.equal(form.toString(), "a=x+y&a=2&b=true");
  const multipart = encodeParams({ infile: new Blob(["data"]), n: 1 });
  assert.ok(multipart instanceof FormData);
  assert.equal(multipart.get("n"), "1");
  assert.equal(jobListUrl("/rest/echo"), "/rest/echo");
  assert.equal(jobListUrl("/rest/echo", { phases: ["QUEUED", "EXECUTING"], after: "2026-01-01T00:00:00Z", last: 5 }),
    "/rest/echo?PHASE=QUEUED&PHASE=EXECUTING&AFTER=2026-01-01T00%3A00%3A00Z&LAST=5");
});

test("createJob posts parameters and control values and follows the redirect", async () => {
  const calls = [];
  const fetch = fakeFetch({
    "POST /rest/echo": () => [200, jobXml({ phase: "QUEUED", id: "new" }), {}, `${BASE}/new`],
  }, calls);
  const uws = new UWSClient({ fetch, DOMParser });
  const job = await uws.createJob(BASE, { message: "hi" }, { run: true, runId: "r1", executionDuration: 30 });
  assert.equal(job.url, `${BASE}/new`);
  assert.equal(job.phase, "QUEUED");
  assert.equal(calls[0].init.body.toString(), "message=hi&RUNID=r1&EXECUTIONDURATION=30&PHASE=RUN");
  assert.equal(calls[0].init.headers.Accept, "application/xml");
});

test("errors become UWSError with the status, the text and the fields", async () => {
  const message = "Invalid value for parameter duration (got '99999'): expected an integer between 0 and 3600";
  const uws = new UWSClient({ fetch: fakeFetch({ "POST /rest/echo": () => [400, `${message}\n`] }), DOMParser });
  await assert.rejects(uws.createJob(BASE, { duration: 99999 }), (error) => {
    assert.ok(error instanceof UWSError);
    assert.equal(error.status, 400);
    assert.equal(error.message, message);
    assert.deepEqual(error.fields, ["duration"]);
    return true;
  });
  await assert.rejects(uws.getJob(`${BASE}/nope`), { name: "UWSError", status: 404 });
});

test("run, abort, delete and the property resources use the UWS URLs", async () => {
  const calls = [];
  const fetch = fakeFetch({
    "POST /rest/echo/j1/phase": () => [200, jobXml({ phase: "ABORTED" }), {}, `${BASE}/j1`],
    "POST /rest/echo/j1/executionduration": () => [200, jobXml(), {}, `${BASE}/j1`],
    "DELETE /rest/echo/j1": () => [200, `<uws:jobs ${NS}/>`],
    "GET /rest/echo/j1/phase": () => [200, "ABORTED"],
    "GET /rest/echo/j1/error": () => [200, "traceback"],
  }, calls);
  const uws = new UWSClient({ fetch, DOMParser });
  assert.equal((await uws.runJob(`${BASE}/j1`)).phase, "ABORTED");
  await uws.abortJob(`${BASE}/j1`);
  await uws.setExecutionDuration(`${BASE}/j1`, 30);
  await uws.deleteJob(`${BASE}/j1`);
  assert.equal(await uws.getPhase(`${BASE}/j1`), "ABORTED");
  assert.equal(await uws.getError(`${BASE}/j1`), "traceback");
  assert.deepEqual(calls.slice(0, 4).map((c) => [c.method, String(c.init.body ?? "")]), [
    ["POST", "PHASE=RUN"], ["POST", "PHASE=ABORT"], ["POST", "EXECUTIONDURATION=30"], ["DELETE", ""]]);
});

test("every request says X-Requested-With; changes carry the CSRF token, found once", async () => {
  const calls = [];
  const fetch = fakeFetch({
    "GET /rest/echo/j1": () => [200, jobXml()],
    "POST /rest/echo/j1/phase": () => [200, jobXml({ phase: "QUEUED" })],
    "DELETE /rest/echo/j1": () => [200, ""],
    "GET /rest/echo/j1/results/output": () => [200, "hello"],
  }, calls);
  let asked = 0;
  const csrfToken = async () => { asked += 1; return "t0ken"; };
  const uws = new UWSClient({ fetch, DOMParser, csrfToken });
  await uws.getJob(`${BASE}/j1`);
  assert.equal(asked, 0, "reading asks for no token");
  await uws.runJob(`${BASE}/j1`);
  await uws.deleteJob(`${BASE}/j1`);
  await uws.getText(`${BASE}/j1/results/output`);
  assert.equal(asked, 1);
  assert.deepEqual(calls.map((c) => [c.method, c.init.headers["X-Requested-With"], c.init.headers["X-CSRF-Token"]]), [
    ["GET", "XMLHttpRequest", undefined], ["POST", "XMLHttpRequest", "t0ken"],
    ["DELETE", "XMLHttpRequest", "t0ken"], ["GET", "XMLHttpRequest", undefined]]);
  assert.ok(calls.every((c) => c.init.credentials === "same-origin"));
  assert.equal(calls[1].init.headers.Accept, "application/xml", "the caller's headers are kept");
});

test("without a token (no session) changes go without the header; a failed lookup is retried", async () => {
  const calls = [];
  const fetch = fakeFetch({ "DELETE /rest/echo/j1": () => [200, ""] }, calls);
  await new UWSClient({ fetch, DOMParser }).deleteJob(`${BASE}/j1`);
  assert.equal(calls[0].init.headers["X-CSRF-Token"], undefined);
  let asked = 0;
  const flaky = () => { asked += 1; if (asked === 1) throw new Error("offline"); return "second"; };
  const uws = new UWSClient({ fetch, DOMParser, csrfToken: flaky });
  await assert.rejects(uws.deleteJob(`${BASE}/j1`), /offline/);
  await uws.deleteJob(`${BASE}/j1`);
  await uws.deleteJob(`${BASE}/j1`);
  assert.equal(asked, 2);
  assert.equal(calls.at(-1).init.headers["X-CSRF-Token"], "second");
});

test("a 401 is reported to onUnauthorized, then fails as a UWSError", async () => {
  const heard = [];
  const fetch = fakeFetch({ "GET /rest/echo": () => [401, "log in to use this service\n"] });
  const uws = new UWSClient({ fetch, DOMParser, onUnauthorized: (response) => heard.push(response.status) });
  await assert.rejects(uws.listJobs(BASE), { name: "UWSError", status: 401, message: "log in to use this service" });
  await assert.rejects(uws.getText(BASE), { status: 401 });
  assert.deepEqual(heard, [401, 401]);
});

test("listJobsMerged merges job lists newest first and keeps LAST", async () => {
  const ref = (id, time) => `<uws:jobref id="${id}" xlink:href="${BASE}/${id}"><uws:phase>PENDING</uws:phase>`
    + `<uws:creationTime>${time}</uws:creationTime></uws:jobref>`;
  const fetch = fakeFetch({
    "GET /rest/a?LAST=2": () => [200, `<uws:jobs ${NS}>${ref("a2", "2026-01-03T00:00:00Z")}${ref("a1", "2026-01-01T00:00:00Z")}</uws:jobs>`],
    "GET /rest/b?LAST=2": () => [200, `<uws:jobs ${NS}>${ref("b1", "2026-01-02T00:00:00Z")}</uws:jobs>`],
  });
  const uws = new UWSClient({ fetch, DOMParser });
  const refs = await uws.listJobsMerged(["http://uws.test/rest/a", "http://uws.test/rest/b"], { last: 2 });
  assert.deepEqual(refs.map((r) => r.id), ["a2", "b1"]);
  assert.equal(newestFirst({ creationTime: "2026-01-01T00:00:00Z", id: "a" }, { creationTime: "2026-01-01T00:00:00Z", id: "b" }), 1);
});

test("listPage reads the page links and the ETag, and waits with If-None-Match", async () => {
  const ref = (id) => `<uws:jobref id="${id}" xlink:href="${BASE}/${id}"><uws:phase>PENDING</uws:phase>`
    + "<uws:creationTime>2026-01-03T00:00:00Z</uws:creationTime></uws:jobref>";
  const calls = [];
  const next = "PAGE=next%3A2026-01-03T00%3A00%3A00.000Z%2Cj2";
  const fetch = fakeFetch({
    "GET /rest/echo?PHASE=PENDING&LAST=1&SORT=-startTime": () => [200, `<uws:jobs ${NS}>${ref("j2")}</uws:jobs>`, {
      ETag: '"v1"',
      Link: `<${BASE}?PHASE=PENDING&LAST=1&SORT=-startTime>; rel="first", `
        + `<${BASE}?PHASE=PENDING&LAST=1&SORT=-startTime&PAGE=last>; rel="last", `
        + `<${BASE}?PHASE=PENDING&LAST=1&SORT=-startTime&${next}>; rel="next"`,
    }],
    [`GET /rest/echo?PHASE=PENDING&LAST=1&SORT=-startTime&${next}&WAIT=60`]: () => [304, ""],
  }, calls);
  const uws = new UWSClient({ fetch, DOMParser });
  const first = await uws.listPage(BASE, { phases: ["PENDING"], last: 1, sort: "-startTime" });
  assert.deepEqual([first.changed, first.refs.map((r) => r.id), first.etag], [true, ["j2"], '"v1"']);
  assert.equal(first.next, "next:2026-01-03T00:00:00.000Z,j2");
  assert.deepEqual(first.links, { next: first.next, prev: null, first: "", last: "last" });
  const waited = await uws.listPage(BASE, { phases: ["PENDING"], last: 1, sort: "-startTime",
    page: first.next, etag: first.etag, wait: 60 });
  assert.deepEqual(waited, { changed: false, refs: null, next: null, links: {}, etag: '"v1"', total: null });
  assert.equal(calls[1].init.headers["If-None-Match"], '"v1"');
  assert.equal(calls[1].init.cache, "no-store");
});

test("watchJob follows a job with blocking GETs until it ends", async () => {
  const phases = ["QUEUED", "EXECUTING", "COMPLETED"];
  const calls = [];
  const fetch = fakeFetch({
    "GET /rest/echo/j1": () => [200, jobXml({ phase: "PENDING" })],
    "GET /rest/echo/j1?WAIT=5&PHASE=PENDING": () => [200, jobXml({ phase: phases[0] })],
    "GET /rest/echo/j1?WAIT=5&PHASE=QUEUED": () => [200, jobXml({ phase: phases[1] })],
    "GET /rest/echo/j1?WAIT=5&PHASE=EXECUTING": () => [200, jobXml({ phase: phases[2] })],
  }, calls);
  const uws = new UWSClient({ fetch, DOMParser, waitSeconds: 5, executingWaitSeconds: 7 });
  const seen = [];
  const last = await uws.watchJob(`${BASE}/j1`, (job) => seen.push(job.phase));
  assert.equal(last.phase, "COMPLETED");
  assert.deepEqual(seen, ["PENDING", "QUEUED", "EXECUTING", "COMPLETED"]);
  assert.equal(calls.length, 4);
});

test("watchJob backs off when the service returns early without a change", async () => {
  let waits = 0;
  const fetch = fakeFetch({
    "GET /rest/echo/j1": () => [200, jobXml({ phase: "EXECUTING" })],
    "GET /rest/echo/j1?WAIT=3&PHASE=EXECUTING": () => {
      waits += 1;
      return [200, jobXml({ phase: waits < 3 ? "EXECUTING" : "COMPLETED" })];
    },
  });
  const uws = new UWSClient({ fetch, DOMParser });
  const started = Date.now();
  const last = await uws.watchJob(`${BASE}/j1`);
  assert.equal(last.phase, "COMPLETED");
  assert.ok(Date.now() - started >= 1400, "two unchanged answers: pauses of 0.5 s then 1 s");
});

test("watchJob stops when its signal aborts", async () => {
  const controller = new AbortController();
  const fetch = async (url, init) => {
    if (url.includes("WAIT")) {
      return new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
    }
    return new Response(jobXml({ phase: "PENDING" }), { status: 200 });
  };
  const uws = new UWSClient({ fetch, DOMParser });
  const watching = uws.watchJob(`${BASE}/j1`, () => {}, { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(watching, { name: "AbortError" });
});

test("getText reads the start of a file with a Range request; empty files give 416", async () => {
  const calls = [];
  const fetch = fakeFetch({
    "GET /rest/echo/j1/results/output": () => [206, "abcd", { "Content-Range": "bytes 0-3/10" }],
    "GET /rest/echo/j1/results/stderr": () => [416, ""],
  }, calls);
  const uws = new UWSClient({ fetch, DOMParser });
  assert.deepEqual(await uws.getText(`${BASE}/j1/results/output`, { maxBytes: 4 }), { text: "abcd", truncated: true, type: "text/plain;charset=UTF-8" });
  assert.equal(calls[0].init.headers.Range, "bytes=0-3");
  assert.equal((await uws.getText(`${BASE}/j1/results/stderr`)).text, "");
});

test("parseXml refuses what is not well-formed", () => {
  const uws = new UWSClient({ fetch: async () => null, DOMParser });
  assert.throws(() => uws.parseXml("<a><b></a>"), /not well-formed/);
});

test("tables: delimited text and VOTable TABLEDATA", () => {
  assert.deepEqual(parseDelimited('a,b\n1,"x, ""y"""\r\n2,3'), [["a", "b"], ["1", 'x, "y"'], ["2", "3"]]);
  assert.deepEqual(parseDelimited("a\tb\n", "\t"), [["a", "b"]]);
  assert.equal(parseDelimited("1\n2\n3\n", ",", 2).length, 2);
  const votable = '<VOTABLE xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE>'
    + '<FIELD name="ra"/><FIELD name="dec"/><DATA><TABLEDATA><TR><TD>1.5</TD><TD>&lt;b&gt;</TD></TR>'
    + "</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>";
  assert.deepEqual(votableRows(parse(votable)), [["ra", "dec"], ["1.5", "<b>"]]);
});
