// The create-a-job page: a form generated from the job description; 'create' and 'create and run'.
import { byId, h, replace, status } from "./dom.js";
import { descriptions, errorText, header, jobUrl, listUrl, page, params, spanText, splitJobUrl,
  uws } from "./common.js";
import { controlFields, parameterField, readFields, showFieldErrors } from "./form.js";

const jobType = params.get("type") || "";
const cloneOf = params.get("clone") || "";

/** What the service applied instead of what was asked (it caps duration and destruction). */
function capNotice(pairs, job) {
  const asked = Object.fromEntries(pairs.filter(([, v]) => typeof v === "string"));
  const notes = [];
  if (asked.EXECUTIONDURATION !== undefined && Number(asked.EXECUTIONDURATION) !== job.executionDuration) {
    notes.push(`execution duration ${job.executionDuration} s (${spanText(job.executionDuration)}) `
      + `instead of the ${asked.EXECUTIONDURATION} s asked`);
  }
  if (asked.DESTRUCTION && Math.abs(new Date(asked.DESTRUCTION) - new Date(job.destruction)) > 1000) {
    notes.push(`destruction at ${job.destruction} instead of ${asked.DESTRUCTION}`);
  }
  return notes.length ? `The service applied its limits: ${notes.join("; ")}.` : null;
}

/** The values of the job to clone: its parameters (not its files), Run ID and duration. */
async function cloneValues(jd) {
  const job = await uws.getJob(jobUrl(jd.name, cloneOf));
  const values = Object.fromEntries(job.parameters.map((p) => [p.id.toLowerCase(), p.value]));
  const files = jd.parameters.filter((p) => p.type === "file" && values[p.name.toLowerCase()]);
  status(`A copy of job ${job.runId || job.jobId}: change what you like, then create it.${files.length
    ? ` Files are not copied: choose ${files.map((p) => p.name).join(", ")} again.` : ""}`, "notice");
  return { values, controls: { RUNID: job.runId ?? "", EXECUTIONDURATION: job.executionDuration ?? "" } };
}

async function build(jd) {
  byId("title").textContent = cloneOf ? `New ${jd.name} job (clone)` : `New ${jd.name} job`;
  document.title = `New ${jd.name} job – UWS`;
  byId("about").textContent = jd.description;
  const from = cloneOf ? await cloneValues(jd) : { values: {}, controls: {} };
  const fields = jd.parameters.map((spec) => parameterField(spec,
    spec.type === "file" ? null : from.values[spec.name.toLowerCase()] ?? spec.default));
  const controls = controlFields(jd, from.controls);
  if (cloneOf) byId("options").open = true;
  replace(byId("parameters"), h("legend", {}, "Parameters"),
    fields.length ? fields.map((f) => f.element) : h("p", {}, "This job type has no parameters."));
  replace(byId("controls"), controls.map((f) => f.element));
  const form = byId("create");
  form.hidden = false;
  const all = [...fields, ...controls];
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const run = event.submitter?.value === "run";
    const formError = byId("form-error");
    formError.hidden = true;
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    status(run ? "Creating and starting the job…" : "Creating the job…");
    try {
      const pairs = readFields(all);
      const job = await uws.createJob(listUrl(jd.name), pairs, { run });
      const where = splitJobUrl(job.url) || { type: jd.name, id: job.jobId };
      const notice = capNotice(pairs, job);
      if (notice) sessionStorage.setItem(`uws-notice:${where.id}`, notice);
      location.href = page("job.html", where);
    } catch (error) {
      status("");
      if (error.fields?.includes("EXECUTIONDURATION") || error.fields?.includes("DESTRUCTION")
          || error.fields?.includes("RUNID")) {
        byId("options").open = true;
      }
      if (!showFieldErrors(all, error)) {
        formError.textContent = errorText(error);
        formError.hidden = false;
        formError.focus();
      } else if (error.problems?.length > 1) {
        formError.textContent = error.message; // the summary; each field says its own
        formError.hidden = false;
      }
    } finally {
      for (const button of form.querySelectorAll("button")) button.disabled = false;
    }
  });
  fields[0]?.input.focus();
}

async function setUp() {
  header("create", jobType || null);
  byId("jobtype").addEventListener("change", (e) => {
    location.href = page("create.html", { type: e.target.value });
  });
  byId("choose").addEventListener("submit", (e) => e.preventDefault());
  try {
    const { jobTypes } = await descriptions.list();
    byId("jobtype").append(...jobTypes.map((t) => h("option", { value: t.name }, t.name)));
    byId("jobtype").value = jobType;
    if (jobType) await build(await descriptions.get(jobType));
    document.body.dataset.loaded = "true";
  } catch (error) {
    status(errorText(error), "error");
  }
}

setUp();
