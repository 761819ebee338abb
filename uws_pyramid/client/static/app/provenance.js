// The jobs linked to a job by provenance, read from a PROV-JSON document of /provenance.

/** A PROV-JSON attribute's value: a plain value, or ``{"$": value, "type": ...}``. */
function plain(value) {
  return value && typeof value === "object" && "$" in value ? value.$ : value;
}

/**
 * The jobs (activities ``service:rest/<type>/<id>``) of a PROV-JSON document, but ``selfId``.
 * @param {any} doc a parsed PROV-JSON document
 * @param {string} selfId the job the walk started from
 * @returns {{type: string, id: string, runId: string|null}[]}
 */
export function relatedJobs(doc, selfId) {
  const found = [];
  for (const [name, attributes] of Object.entries(doc?.activity || {})) {
    const match = /^service:rest\/([^/]+)\/([^/]+)$/.exec(name);
    if (!match || match[2] === selfId) continue;
    const runId = plain((attributes || {})["uws:runId"]);
    found.push({ type: match[1], id: match[2], runId: runId ? String(runId) : null });
  }
  return found;
}
