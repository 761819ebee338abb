// What every page shares: the service's URLs, the clients, navigation, phases and times.
import { UWSClient } from "../uws.js";
import { JobDescriptions } from "../jdl.js";
import { h, replace } from "./dom.js";
import { absoluteTime, relativeTime } from "./times.js";

export { absoluteTime, durationSeconds, relativeTime, spanText } from "./times.js";

/** The service root: this file is served at {root}client/static/app/common.js. */
export const ROOT = new URL("../../../", import.meta.url).href;
export const uws = new UWSClient({
  csrfToken: async () => (await clientConfig()).csrf_token,
  onUnauthorized: () => toLogin(),
});
export const descriptions = new JobDescriptions(uws, ROOT);
export const params = new URLSearchParams(location.search);

/** @type {Promise<import("../jdl.js").ClientConfig>|null} */
let configuration = null;
let leaving = false;

/** Who the caller is and what the service offers them (GET /client/config), fetched once. */
export function clientConfig() {
  configuration ??= descriptions.config().catch((error) => { configuration = null; throw error; });
  return configuration;
}

/** The login page's URL, to come back to this page afterwards; null without accounts. */
function loginHref(config) {
  if (!config.login) return null;
  return `${config.login}?${new URLSearchParams({ next: location.pathname + location.search })}`;
}

/** Go to the login page (the service answered 401); not from the login page itself. */
export async function toLogin() {
  const config = await clientConfig().catch(() => null);
  const href = config && loginHref(config);
  if (leaving || !href || new URL(config.login, location.href).pathname === location.pathname) return;
  leaving = true;
  location.assign(href);
}

/** @param {string|null} jobType @returns {string} the job list URL ("/rest" for every type) */
export function listUrl(jobType) {
  return jobType ? `${ROOT}rest/${encodeURIComponent(jobType)}` : `${ROOT}rest`;
}

/** @param {string} jobType @param {string} jobId */
export function jobUrl(jobType, jobId) {
  return `${listUrl(jobType)}/${encodeURIComponent(jobId)}`;
}

/** A client page's URL: ``page("job.html", {type, id})``. */
export function page(name, query = {}) {
  const search = new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const text = search.toString();
  return text ? `${name}?${text}` : name;
}

/** The job type and id of a job URL of this service, or null. */
export function splitJobUrl(href) {
  const match = /\/rest\/([^/?#]+)\/([^/?#]+)$/.exec(new URL(href, ROOT).pathname);
  return match ? { type: decodeURIComponent(match[1]), id: decodeURIComponent(match[2]) } : null;
}

/** Fill the page's <header> with the navigation; ``current`` is the link to mark; ``skips``:
 * more skip links, ``[href, label]``. */
export function header(current, jobType = null, skips = []) {
  const links = [
    ["jobs", page("index.html", { type: jobType }), jobType ? `Jobs: ${jobType}` : "All jobs"],
    ["create", page("create.html", { type: jobType }), "New job"],
    ["jdl", page("jdl.html", { type: jobType }), "Job descriptions"],
  ];
  const account = h("div", { class: "account", id: "account" });
  replace(document.querySelector("header"),
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    skips.map(([href, label]) => h("a", { class: "skip", href }, label)),
    h("a", { class: "brand", href: ROOT }, "UWS"),
    h("nav", { "aria-label": "Main" }, h("ul", {}, links.map(([key, href, label]) =>
      h("li", {}, h("a", { href, "aria-current": key === current ? "page" : null }, label))))),
    account);
  clientConfig().then((config) => replace(account, accountControls(config, current)))
    .catch(() => {}); // the page reports the service's faults where it uses it
}

/** Who is logged in, with a "Log out" button; or a "Log in" link. */
function accountControls(config, current) {
  if (!config.user) {
    const href = current === "login" ? null : loginHref(config);
    return href ? h("a", { href, id: "login-link" }, "Log in") : null;
  }
  const who = h("span", {}, h("span", { class: "quiet" }, "Logged in as "),
    h("span", { class: "user", id: "user" }, config.user,
      config.admin ? h("span", { class: "quiet" }, " (administrator)") : null));
  if (!config.logout) return who; // HTTP Basic or a proxy: no session to end here
  // A plain form: the service ends the session and redirects to the login page.
  return [who, h("form", { method: "post", action: config.logout, class: "logout" },
    h("input", { type: "hidden", name: "csrf_token", value: config.csrf_token }),
    h("button", { type: "submit", id: "logout" }, "Log out"))];
}

/** A phase as a coloured badge (the colour comes from style.css, the text says it too). */
export function phaseBadge(phase) {
  return h("span", { class: `phase phase-${String(phase || "UNKNOWN").toLowerCase()}` },
    phase || "UNKNOWN");
}

/**
 * A time as a <time> element: relative ("3 min ago") with the absolute time on hover, or
 * (``relative`` false) absolute with the relative one on hover.
 */
export function timeText(iso, { relative = false } = {}) {
  if (!iso) return h("span", { class: "none" }, "—");
  if (Number.isNaN(new Date(iso).getTime())) return h("span", {}, iso);
  const [text, hover] = relative ? [relativeTime(iso), absoluteTime(iso)]
    : [absoluteTime(iso), relativeTime(iso)];
  return h("time", { datetime: iso, title: hover }, text);
}

/** A byte count in words. */
export function sizeText(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** The text to show for an error (a UWSError's server message, or a network fault). */
export function errorText(error) {
  if (error?.name === "UWSError") return `${error.status}: ${error.message}`;
  return `The service could not be reached: ${error?.message || error}`;
}
