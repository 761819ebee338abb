// Form fields generated from a job description, shared by the create page and the job editor.
import { h, replace } from "./dom.js";

const NUMBER_TYPES = { "xs:int": "1", "xs:long": "1", "xs:float": "any", "xs:double": "any" };
/** The names people know for the description's types. */
const TYPE_NAMES = { "xs:int": "whole number", "xs:long": "whole number", "xs:float": "decimal number",
  "xs:double": "decimal number", "xs:boolean": "yes/no", "xs:anyURI": "URL", file: "file",
  "xs:string": "text" };

/** @param {string} type a description's type (xs:int...) @returns {string} its name in words */
export function typeName(type) {
  return TYPE_NAMES[type] || "text";
}

/**
 * @typedef {{name: string, element: HTMLElement, input: HTMLElement,
 *   read: () => any, error: (message: string|null) => void}} Field
 */

/** What a valid value looks like, as help text. */
export function expected(spec) {
  if (spec.choices?.length) return `one of: ${spec.choices.join(", ")}`;
  const kind = { "xs:int": "a whole number", "xs:long": "a whole number", "xs:float": "a decimal number",
    "xs:double": "a decimal number", "xs:boolean": "yes or no", "xs:anyURI": "a URL",
    file: "a file" }[spec.type] || "text";
  if (spec.min !== null && spec.min !== undefined && spec.max !== null && spec.max !== undefined) {
    return `${kind} between ${spec.min} and ${spec.max}`;
  }
  if (spec.min !== null && spec.min !== undefined) return `${kind} ≥ ${spec.min}`;
  if (spec.max !== null && spec.max !== undefined) return `${kind} ≤ ${spec.max}`;
  return kind;
}

function control(spec, id, value) {
  const common = { id, name: spec.name, "aria-describedby": `${id}-help ${id}-error`,
    "aria-required": spec.required ? "true" : null };
  if (spec.choices?.length || spec.type === "xs:boolean") {
    const choices = spec.choices?.length ? spec.choices : ["true", "false"];
    const select = h("select", common, h("option", { value: "" }, spec.required ? "— choose —" : "(none)"),
      choices.map((c) => h("option", { value: c },
        spec.type === "xs:boolean" && !spec.choices?.length ? { true: "yes", false: "no" }[c] : c)));
    select.value = choices.includes(value) ? value : "";
    return select;
  }
  if (spec.type === "file") return h("input", { ...common, type: "file" });
  if (spec.type in NUMBER_TYPES) {
    return h("input", { ...common, type: "number", step: NUMBER_TYPES[spec.type], min: spec.min,
      max: spec.max, value: value ?? "", inputmode: NUMBER_TYPES[spec.type] === "1" ? "numeric" : "decimal" });
  }
  if (spec.type === "xs:anyURI") return h("input", { ...common, type: "url", value: value ?? "" });
  return h("input", { ...common, type: "text", value: value ?? "" });
}

/**
 * One labelled field with help text and a place for the server's error message.
 * @param {any} spec a parameter of the job description (its JSON form)
 * @param {string|null} value the value to show (the default, or the job's current value)
 * @param {{optionalFile?: boolean, prefix?: string}} [options]
 * @returns {Field}
 */
export function parameterField(spec, value, { optionalFile = false, prefix = "p" } = {}) {
  const id = `${prefix}-${spec.name}`;
  const input = control(spec, id, value);
  const errorBox = h("p", { id: `${id}-error`, class: "field-error", hidden: true });
  const help = [spec.description, expected(spec)];
  if (spec.default !== null && spec.default !== undefined) help.push(`default: ${spec.default}`);
  if (optionalFile && spec.type === "file") help.push("leave empty to keep the current file");
  const element = h("div", { class: "field", "data-field": spec.name },
    h("label", { for: id }, spec.name,
      spec.required ? h("abbr", { class: "required", title: "required" }, " *") : null,
      h("span", { class: "type" }, ` (${typeName(spec.type)})`)),
    input,
    h("p", { id: `${id}-help`, class: "help" }, help.filter(Boolean).join(" · ")),
    errorBox);
  const error = (message) => {
    replace(errorBox, message || "");
    errorBox.hidden = !message;
    element.classList.toggle("invalid", Boolean(message));
    if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  };
  const read = () => {
    if (spec.type === "file") {
      const file = input.files?.[0] || null;
      if (!file && spec.required && !optionalFile) throw new FieldError(spec.name, `${spec.name}: a file is required`);
      return file;
    }
    const problem = input.validity?.badInput ? `${spec.name}: expected ${expected(spec)}` : check(spec, input.value);
    if (problem) throw new FieldError(spec.name, problem);
    return input.value === "" ? null : input.value;
  };
  return { name: spec.name, element, input, read, error };
}

/**
 * What is wrong with a value by the description (required, number form, min/max, choices),
 * checked before sending; null if nothing. The service checks it all again.
 */
export function check(spec, value) {
  if (value === "" || value === null || value === undefined) {
    return spec.required && (spec.default === null || spec.default === undefined)
      ? `${spec.name} is required` : null;
  }
  const bad = `${spec.name}: expected ${expected(spec)}`;
  if (spec.choices?.length) return spec.choices.includes(value) ? null : bad;
  if (spec.type === "xs:boolean") return ["true", "false"].includes(value) ? null : bad;
  if (spec.type in NUMBER_TYPES) {
    const whole = NUMBER_TYPES[spec.type] === "1";
    if (!(whole ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/).test(value.trim())) return bad;
    const number = Number(value);
    const limit = (x) => x !== null && x !== undefined && x !== "";
    if ((limit(spec.min) && number < Number(spec.min)) || (limit(spec.max) && number > Number(spec.max))) return bad;
  }
  return null;
}

/** Values that cannot be sent: ``problems`` lists each field's ({name, message}). */
export class FieldError extends Error {
  constructor(field, message, problems = [{ name: field, message }]) {
    super(message);
    this.fields = problems.map((p) => p.name);
    this.problems = problems;
  }
}

/** RUNID, EXECUTIONDURATION and DESTRUCTION fields, named by their UWS control names. */
export function controlFields(jd, values = {}) {
  const days = jd.destruction ? ` (default: ${Math.round(jd.destruction / 86400)} days after creation)` : "";
  const limit = jd.max_execution_duration ? `, at most ${jd.max_execution_duration}` : "";
  const specs = [
    { name: "RUNID", label: "Run ID", type: "text", help: "Your own label for this job" },
    { name: "EXECUTIONDURATION", label: "Execution duration", type: "number",
      help: `Seconds the job may run (default: ${jd.execution_duration ?? "the service's"}${limit})` },
    { name: "DESTRUCTION", label: "Destruction", type: "datetime-local",
      help: `When the job and its results are deleted${days}` },
  ];
  return specs.map((spec) => {
    const id = `c-${spec.name}`;
    const input = h("input", { id, name: spec.name, type: spec.type, min: spec.type === "number" ? 0 : null,
      step: spec.type === "datetime-local" ? 1 : null, value: values[spec.name] ?? "",
      "aria-describedby": `${id}-help ${id}-error` });
    const errorBox = h("p", { id: `${id}-error`, class: "field-error", hidden: true });
    const element = h("div", { class: "field", "data-field": spec.name },
      h("label", { for: id }, spec.label), input, h("p", { id: `${id}-help`, class: "help" }, spec.help),
      errorBox);
    const error = (message) => {
      replace(errorBox, message || "");
      errorBox.hidden = !message;
      element.classList.toggle("invalid", Boolean(message));
    };
    const read = () => {
      if (input.validity?.badInput) throw new FieldError(spec.name, `${spec.label}: not valid`);
      if (input.value === "") return null;
      // Only the form is checked here: the service caps a long duration, and says so.
      if (spec.type === "number" && !/^\d+$/.test(input.value.trim())) {
        throw new FieldError(spec.name, `${spec.label}: expected a whole number of seconds ≥ 0`);
      }
      return spec.type === "datetime-local" ? new Date(input.value).toISOString() : input.value;
    };
    return { name: spec.name, element, input, read, error };
  });
}

/** An ISO time as the value of a datetime-local input (local time). */
export function localInputTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 19);
}

/** Read every field: ``[name, value]`` pairs of the non-empty ones; a FieldError naming
 * every field that is wrong (all at once, not the first alone). */
export function readFields(fields) {
  const pairs = [];
  const problems = [];
  for (const field of fields) {
    try {
      pairs.push([field.name, field.read()]);
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length) {
    const message = problems.length === 1 ? problems[0].message
      : `${problems.length} fields need a change: ${problems.map((p) => p.name).join(", ")}`;
    throw new FieldError(problems[0].name, message, problems);
  }
  return pairs.filter(([, v]) => v !== null);
}

/**
 * Show an error next to the fields it names; returns true if some field took it.
 * @param {Field[]} fields @param {any} error a UWSError or FieldError
 */
export function showFieldErrors(fields, error) {
  for (const field of fields) field.error(null);
  // The client's own checks name a message per field; the service's 400 one message.
  const problems = error?.problems || (error?.fields || []).map((name) => ({ name, message: error.message }));
  const hit = [];
  for (const problem of problems) {
    const field = fields.find((f) => f.name.toLowerCase() === problem.name.toLowerCase());
    if (field) { field.error(problem.message); hit.push(field); }
  }
  if (hit.length) hit[0].input.focus();
  return hit.length > 0;
}
