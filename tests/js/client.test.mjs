// Unit tests of the client pages' pure modules: times, form checks, snippets, FITS headers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DOMParser } from "./minidom.js";
import { UWSClient } from "../../uws_pyramid/client/static/uws.js";
import { absoluteTime, durationSeconds, relativeTime, spanText } from "../../uws_pyramid/client/static/app/times.js";
import { shellQuote, snippets } from "../../uws_pyramid/client/static/app/snippets.js";
import { fitsHeader } from "../../uws_pyramid/client/static/app/tables.js";

const NOW = Date.parse("2026-11-30T12:00:00Z");

test("one absolute time format: ISO, 24 h, with the local zone", () => {
  process.env.TZ = "UTC";
  assert.match(absoluteTime("2026-11-30T13:05:09Z"), /^2026-11-30 \d\d:05:09 [+-]\d\d:\d\d$/);
  assert.equal(absoluteTime("not a time"), "not a time");
});

test("relative times and spans", () => {
  assert.equal(relativeTime("2026-11-30T11:57:00Z", NOW), "3 min ago");
  assert.equal(relativeTime("2026-11-30T11:59:58Z", NOW), "just now");
  assert.equal(relativeTime("2026-11-30T09:30:00Z", NOW), "2 h 30 min ago");
  assert.equal(relativeTime("2026-12-02T13:00:00Z", NOW), "in 2 d 1 h");
  assert.equal(spanText(59), "59 s");
  assert.equal(spanText(185), "3 min 05 s");
  assert.equal(durationSeconds(null, null, NOW), null);
  assert.equal(durationSeconds("2026-11-30T11:59:00Z", null, NOW), 60);
  assert.equal(durationSeconds("2026-11-30T11:00:00Z", "2026-11-30T11:00:30Z", NOW), 30);
});

test("shell words are quoted, so values never become shell syntax", () => {
  assert.equal(shellQuote("plain-1.txt"), "plain-1.txt");
  assert.equal(shellQuote("it's $(rm -rf ~) `x`"), "'it'\\''s $(rm -rf ~) `x`'");
});

test("snippets recreate a job with its parameters and fetch it", () => {
  const job = {
    runId: "my run", parameters: [{ id: "message", value: "a 'quoted' $x" }, { id: "infile", value: "uploads/infile/words.txt" }],
    results: [{ id: "output", href: "http://s/rest/echo/j1/results/output" }],
  };
  const { curl, httpie, pyvo } = snippets(job, "http://s/rest/echo", "http://s/rest/echo/j1", new Set(["infile"]));
  assert.match(curl, /-F 'message=a '\\''quoted'\\'' \$x'/);
  assert.match(curl, /-F infile=@words\.txt/);
  assert.match(curl, /-F 'RUNID=my run'/);
  assert.match(curl, /curl -sO http:\/\/s\/rest\/echo\/j1\/results\/output/);
  assert.match(httpie, /http --multipart POST http:\/\/s\/rest\/echo/);
  assert.match(httpie, /infile@words\.txt/);
  assert.match(pyvo, /data=\{"message": "a 'quoted' \$x", "RUNID": "my run"\}/);
  assert.match(pyvo, /files=\{"infile": open\("words.txt", "rb"\)\}/);
  assert.match(pyvo, /AsyncTAPJob\("http:\/\/s\/rest\/echo\/j1"\)/);
  const plain = snippets({ runId: null, parameters: [{ id: "n", value: "1" }], results: [] }, "http://s/rest/x", "http://s/rest/x/j");
  assert.match(plain.curl, /--data-urlencode n=1 \\\n {2}-d PHASE=RUN/);
});

test("FITS header cards up to END", () => {
  const card = (text) => text.padEnd(80);
  const header = card("SIMPLE  =                    T") + card("BITPIX  =                   16") + card("END");
  assert.deepEqual(fitsHeader(`${header}${"\u0000".repeat(20)}`),
    ["SIMPLE  =                    T", "BITPIX  =                   16", "END"]);
  assert.deepEqual(fitsHeader("not fits"), []);
});

test("listPage asks for a Run ID prefix, an owner and the count", async () => {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push(url);
    return new Response('<uws:jobs xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0"/>',
      { status: 200, headers: { "X-Total-Count": "10000+", ETag: '"e"' } });
  };
  const uws = new UWSClient({ fetch, DOMParser });
  const page = await uws.listPage("http://s/rest/echo", { last: 10, runId: "ab*", owner: "bob", count: true });
  assert.equal(page.total, "10000+");
  const query = new URL(seen[0]).searchParams;
  assert.deepEqual([query.get("RUNID"), query.get("OWNER"), query.get("COUNT"), query.get("LAST")], ["ab*", "bob", "true", "10"]);
});

test("form checks from the description, with human type names", async () => {
  const { check, typeName } = await import("../../uws_pyramid/client/static/app/form.js");
  const duration = { name: "duration", type: "xs:int", min: 0, max: 3600, required: true, default: null };
  assert.equal(check(duration, ""), "duration is required");
  assert.equal(check(duration, "1.5"), "duration: expected a whole number between 0 and 3600");
  assert.equal(check(duration, "99999"), "duration: expected a whole number between 0 and 3600");
  assert.equal(check(duration, "60"), null);
  assert.equal(check({ name: "x", type: "xs:double" }, "1e3"), null);
  assert.equal(check({ name: "x", type: "xs:double" }, "abc"), "x: expected a decimal number");
  assert.equal(check({ name: "c", type: "xs:string", choices: ["a", "b"] }, "z"), "c: expected one of: a, b");
  assert.equal(check({ name: "r", type: "xs:string", required: true, default: "d" }, ""), null);
  assert.deepEqual(["xs:int", "xs:double", "xs:boolean", "file", "xs:string"].map(typeName),
    ["whole number", "decimal number", "yes/no", "file", "text"]);
});

test("line diff: kept, removed and added lines, with context", async () => {
  const { changedLines, lineDiff } = await import("../../uws_pyramid/client/static/app/diff.js");
  assert.deepEqual(lineDiff("a\nb\nc", "a\nx\nc"), [[" ", "a"], ["-", "b"], ["+", "x"], [" ", "c"]]);
  assert.deepEqual(lineDiff("", "new"), [["-", ""], ["+", "new"]]);
  const long = Array.from({ length: 20 }, (_, i) => `line ${i}`);
  const changed = [...long];
  changed[10] = "changed";
  const shown = changedLines(lineDiff(long.join("\n"), changed.join("\n")), 1);
  assert.deepEqual(shown, [["…", ""], [" ", "line 9"], ["-", "line 10"], ["+", "changed"], [" ", "line 11"], ["…", ""]]);
});

test("jobs linked by provenance, from a PROV-JSON document", async () => {
  const { relatedJobs } = await import("../../uws_pyramid/client/static/app/provenance.js");
  const doc = { activity: {
    "service:rest/echo/a1": { "prov:label": "echo job a1", "uws:runId": "first" },
    "service:rest/wordcount/b2": { "uws:runId": { $: "second", type: "xsd:string" } },
    "service:rest/echo/self": {},
    "other:thing": {},
  } };
  assert.deepEqual(relatedJobs(doc, "self"), [
    { type: "echo", id: "a1", runId: "first" }, { type: "wordcount", id: "b2", runId: "second" }]);
  assert.deepEqual(relatedJobs({}, "self"), []);
});

test("why a queued job waits, from its jobInfo", async () => {
  const { waitingReason } = await import("../../uws_pyramid/client/static/app/reasons.js");
  assert.equal(waitingReason({ slurm_reason: "Resources" }), "waiting for free resources on the cluster (SLURM: Resources)");
  assert.equal(waitingReason({ slurm_reason: "Odd" }), "SLURM: Odd");
  assert.equal(waitingReason({ queue: "waiting for a free slot, 2 jobs ahead" }), "waiting for a free slot, 2 jobs ahead");
  const slot = "waiting for a free slot (max_running = 1)";
  assert.equal(waitingReason({ queueReason: slot, jobsAhead: 2 }), `${slot}, 2 jobs ahead`);
  assert.equal(waitingReason({ queueReason: slot, jobsAhead: "1" }), `${slot}, 1 job ahead`);  // from XML
  assert.equal(waitingReason({ queueReason: slot, jobsAhead: 0 }), `${slot}, next to start`);
  assert.equal(waitingReason({}), null);
  assert.equal(waitingReason(null), null);
});
