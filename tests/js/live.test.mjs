// The library against the real service (started by tests/test_browser.py, which sets UWS_TEST_BASE).
import { test } from "node:test";
import assert from "node:assert/strict";
import { DOMParser } from "./minidom.js";
import { UWSClient } from "../../uws_pyramid/client/static/uws.js";

const base = process.env.UWS_TEST_BASE;
const skip = base ? false : "UWS_TEST_BASE is not set";
const uws = new UWSClient({ DOMParser, waitSeconds: 10 });

test("a job's whole life: create, run, wait, read the result, list, delete", { skip }, async () => {
  const job = await uws.createJob(`${base}/rest/echo`, { message: "hello from node" }, { runId: "node" });
  assert.equal(job.phase, "PENDING");
  assert.equal(job.runId, "node");
  await uws.runJob(job.url);
  const done = await uws.watchJob(job.url);
  assert.equal(done.phase, "COMPLETED");
  const output = done.results.find((r) => r.id === "output");
  assert.equal((await uws.getText(output.href)).text, "hello from node\n");
  const refs = await uws.listJobs(`${base}/rest/echo`, { phases: ["COMPLETED"], last: 5 });
  assert.ok(refs.some((r) => r.id === done.jobId));
  assert.deepEqual((await uws.getResults(job.url)).map((r) => r.id).sort(), done.results.map((r) => r.id).sort());
  await uws.deleteJob(job.url);
  await assert.rejects(uws.getJob(job.url), { status: 404 });
});

test("a refused value names its parameter; uploads go as multipart", { skip }, async () => {
  await assert.rejects(uws.createJob(`${base}/rest/sleep`, { duration: 99999 }),
    (error) => error.status === 400 && error.fields[0] === "duration");
  const job = await uws.createJob(`${base}/rest/wordcount`, { infile: new Blob(["one two\nthree\n"]) }, { run: true });
  const done = await uws.watchJob(job.url);
  assert.equal(done.phase, "COMPLETED");
  const counts = JSON.parse((await uws.getText(done.results.find((r) => r.id === "counts").href)).text);
  assert.deepEqual(counts, { lines: 2, words: 3, bytes: 14 });
});

test("abort a running job", { skip }, async () => {
  const job = await uws.createJob(`${base}/rest/sleep`, { duration: 30 }, { run: true });
  const aborted = await uws.abortJob(job.url);
  assert.equal(aborted.phase, "ABORTED");
  assert.equal(await uws.getPhase(job.url), "ABORTED");
});
