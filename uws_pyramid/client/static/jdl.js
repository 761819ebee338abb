// Job descriptions of this service (not part of UWS): /jdl lists and describes job types, and
// PUT /jdl/{type} saves one when the service's editor is enabled; /client/config says who calls.

/**
 * @typedef {{name: string, type: string, required: boolean, default: string|null,
 *   description: string, min: string|null, max: string|null, choices: string[]}} ParameterSpec
 * @typedef {{id: string, mime_type: string, default: string, description: string}} ResultSpec
 * @typedef {{name: string, description: string, version: string,
 *   parameters: ParameterSpec[], results: ResultSpec[], execution_duration: number|null,
 *   max_execution_duration: number|null, quote: number|null, destruction: number|null,
 *   options: Object<string, string>}} JobDescription
 * @typedef {{user: string|null, admin: boolean, anonymous: boolean, editor: boolean,
 *   csrf_token: string, login: string|null, logout: string|null}} ClientConfig
 *   ``login``: the login page (null when the service keeps no accounts); ``logout``: where
 *   to POST to end the session (null without one); ``csrf_token``: "" without a session.
 */

export class JobDescriptions {
  /**
   * @param {import("./uws.js").UWSClient} client for its fetch and error handling
   * @param {string} base the service's root URL, e.g. ``/``
   */
  constructor(client, base = "/") {
    this.client = client;
    this.base = base.endsWith("/") ? base : `${base}/`;
  }

  async json(path, init) {
    const headers = { Accept: "application/json", ...(init?.headers || {}) };
    return (await this.client.request(this.base + path, { ...init, headers })).json();
  }

  /** @returns {Promise<{jobTypes: {name: string, description: string, jobs: string}[],
   *   invalid: Object<string, string>}>} */
  list() {
    return this.json("jdl");
  }

  /** @param {string} name @returns {Promise<JobDescription>} */
  get(name) {
    return this.json(`jdl/${encodeURIComponent(name)}/json`);
  }

  /** @param {string} name @returns {Promise<string>} the WADL document */
  async wadl(name) {
    // As WADL whatever format the type is saved in (an OPUS VOTable type, say).
    return (await this.client.request(`${this.base}jdl/${encodeURIComponent(name)}?format=wadl`)).text();
  }

  /** @param {string} name @returns {Promise<string>} the job type's script (editor only) */
  async script(name) {
    return (await this.client.request(`${this.base}jdl/${encodeURIComponent(name)}/script`)).text();
  }

  /** @param {string} name @returns {Promise<{versions: {stamp: string, replaced: string, script: boolean}[]}>}
   * the saved earlier versions of a job type, newest first (editor only) */
  versions(name) {
    return this.json(`jdl/${encodeURIComponent(name)}/history`);
  }

  /** @param {string} name @param {string} stamp
   * @returns {Promise<{description: JobDescription, wadl: string, script: string|null}>} */
  version(name, stamp) {
    return this.json(`jdl/${encodeURIComponent(name)}/history/${encodeURIComponent(stamp)}`);
  }

  /** @returns {Promise<ClientConfig>} who the caller is and what the client may offer them */
  config() {
    return this.json("client/config");
  }

  /**
   * Check, or save and activate, a job description (and its script, null to keep it).
   * Throws UWSError 400 with the fault for an invalid description, 403 without the editor.
   * @param {JobDescription} description
   * @param {string|null} script
   * @param {{check?: boolean}} [options] ``check``: validate only, write nothing
   * @returns {Promise<{name: string, wadl: string, saved: boolean}>}
   */
  save(description, script, { check = false } = {}) {
    const path = `jdl/${encodeURIComponent(description.name)}${check ? "?check=1" : ""}`;
    return this.json(path, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ description, script }),
    });
  }
}
