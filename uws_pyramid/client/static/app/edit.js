// Editing a PENDING job on its page: parameters, run ID, execution duration and destruction.
import { h, replace } from "./dom.js";
import { errorText, uws } from "./common.js";
import { controlFields, localInputTime, parameterField, readFields, showFieldErrors } from "./form.js";

/**
 * Replace ``container`` with a form for the job's values; ``done(job|null)`` when finished.
 * Only the values that the user changed are sent, so that a refused change names its field.
 * @param {{job: any, jd: any, url: string, container: HTMLElement, done: (job: any) => void}} args
 */
export function startEditing({ job, jd, url, container, done }) {
  const current = new Map(job.parameters.map((p) => [p.id.toLowerCase(), p.value]));
  const fields = jd.parameters.map((spec) => parameterField(spec,
    spec.type === "file" ? null : current.get(spec.name.toLowerCase()) ?? null,
    { optionalFile: true, prefix: "e" }));
  const initial = {
    RUNID: job.runId ?? "",
    EXECUTIONDURATION: job.executionDuration ?? "",
    DESTRUCTION: localInputTime(job.destruction),
  };
  const controls = controlFields(jd, initial);
  const all = [...fields, ...controls];
  const before = new Map(all.map((f) => [f.name, f.input.type === "file" ? "" : f.input.value]));
  const formError = h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h("form", { class: "job-form", id: "edit-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Parameters"), fields.map((f) => f.element)),
    h("fieldset", {}, h("legend", {}, "Job control"), controls.map((f) => f.element)),
    formError,
    h("div", { class: "buttons" }, save,
      h("button", { type: "button", onclick: () => done(null) }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.hidden = true;
    save.disabled = true;
    try {
      const changed = all.filter((f) => f.input.type === "file" ? f.input.files.length
        : f.input.value !== before.get(f.name));
      const pairs = readFields(changed);
      done(pairs.length ? await uws.updateJob(url, pairs) : null);
    } catch (error) {
      if (!showFieldErrors(all, error)) {
        formError.textContent = errorText(error);
        formError.hidden = false;
        formError.focus();
      }
    } finally {
      save.disabled = false;
    }
  });
  replace(container, form);
  (fields[0] || controls[0]).input.focus();
}
