// Commands that recreate or fetch a job with curl, httpie and pyvo (pure functions: text only).

/** A word for a POSIX shell: single-quoted, a quote inside as '\''. */
export function shellQuote(text) {
  const value = String(text);
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/** A Python string literal (JSON's escapes are Python's for these). */
function pyString(text) {
  return JSON.stringify(String(text));
}

/**
 * The parameters to send again: ``[name, value, isFile]``; a file goes as the local file of
 * its name (the user has it, or downloads it from the job).
 * @param {{parameters: {id: string, value: string}[], runId?: string|null}} job
 * @param {Set<string>} fileNames parameters (lower case) whose type is file
 */
function sent(job, fileNames) {
  const pairs = job.parameters.map((p) => [p.id, fileNames.has(p.id.toLowerCase())
    ? (p.value.split("/").pop() || p.id) : p.value, fileNames.has(p.id.toLowerCase())]);
  if (job.runId) pairs.push(["RUNID", job.runId, false]);
  return pairs;
}

/**
 * curl, httpie and pyvo snippets for a job: create (and run) a copy, then fetch the job.
 * @param {any} job the job (its parameters, runId, results)
 * @param {string} listUrl where jobs of its type are created
 * @param {string} jobUrl the job's own URL
 * @param {Set<string>} fileNames the job type's file parameters (lower case)
 * @returns {{curl: string, httpie: string, pyvo: string}}
 */
export function snippets(job, listUrl, jobUrl, fileNames = new Set()) {
  const pairs = sent(job, fileNames);
  const anyFile = pairs.some(([, , file]) => file);
  const curlArgs = pairs.map(([name, value, file]) => (file ? `-F ${shellQuote(`${name}=@${value}`)}`
    : `${anyFile ? "-F" : "--data-urlencode"} ${shellQuote(`${name}=${value}`)}`));
  const curl = [
    "# a new job with the same parameters, started at once (the answer's Location is its URL)",
    ["curl -si", ...curlArgs, `${anyFile ? "-F" : "-d"} PHASE=RUN`, shellQuote(listUrl)].join(" \\\n  "),
    "# this job: its state, then each result",
    `curl -s ${shellQuote(jobUrl)}`,
    ...job.results.map((r) => `curl -sO ${shellQuote(r.href)}`),
    ...(job.results.length ? ["# or every result in one zip", `curl -s -o results.zip ${shellQuote(`${jobUrl}/results.zip`)}`] : []),
  ].join("\n");
  const httpie = [
    "# a new job with the same parameters, started at once",
    [`http ${anyFile ? "--multipart" : "--form"} POST ${shellQuote(listUrl)}`,
      ...pairs.map(([name, value, file]) => shellQuote(`${name}${file ? "@" : "="}${value}`)),
      "PHASE=RUN"].join(" \\\n  "),
    "# this job",
    `http ${shellQuote(jobUrl)}`,
  ].join("\n");
  const data = pairs.filter(([, , file]) => !file).map(([n, v]) => `${pyString(n)}: ${pyString(v)}`);
  const files = pairs.filter(([, , file]) => file)
    .map(([n, v]) => `${pyString(n)}: open(${pyString(v)}, "rb")`);
  const pyvo = [
    "import requests",
    "from pyvo.dal.tap import AsyncTAPJob  # pyvo follows any UWS 1.1 job",
    "",
    "# a new job with the same parameters",
    `created = requests.post(${pyString(listUrl)},`,
    `                        data={${data.join(", ")}},${files.length ? `\n                        files={${files.join(", ")}},` : ""}`,
    "                        allow_redirects=False)",
    "job = AsyncTAPJob(created.headers[\"Location\"])",
    "job.run()",
    "job.wait()",
    "job.raise_if_error()",
    "print(job.phase, job.result_uris)",
    "",
    "# this job",
    `this = AsyncTAPJob(${pyString(jobUrl)})`,
    "print(this.phase, this.result_uris)",
  ].join("\n");
  return { curl, httpie, pyvo };
}
