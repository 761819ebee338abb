// The create-a-job page: a form generated from the job description; 'create' and 'create and run'.
import { byId, h, replace, status } from "./dom.js";
import { descriptions, errorText, header, listUrl, page, params, splitJobUrl, uws } from "./common.js";
import { controlFields, parameterField, readFields, showFieldErrors } from "./form.js";

const jobType = params.get("type") || "";

async function build(jd) {
  byId("title").textContent = `New ${jd.name} job`;
  document.title = `New ${jd.name} job – UWS`;
  byId("about").textContent = jd.description;
  const fields = jd.parameters.map((spec) => parameterField(spec, spec.default));
  const controls = controlFields(jd);
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
