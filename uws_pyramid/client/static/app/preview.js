// Inline previews of results: text, JSON, images and tables, always rendered as text.
import { h, replace } from "./dom.js";
import { parseDelimited, votableRows } from "./tables.js";
import { uws } from "./common.js";

const MAX_BYTES = 65536;

/** What kind of preview suits a result: image, json, csv, tsv, votable, text or null. */
export function previewKind(result) {
  const type = (result.mimeType || "").toLowerCase().split(";")[0].trim();
  const name = (result.href || result.id || "").toLowerCase();
  if (type.startsWith("image/") && type !== "image/svg+xml") return "image";
  if (type === "application/json" || type.endsWith("+json") || name.endsWith(".json")) return "json";
  if (type === "text/csv" || name.endsWith(".csv")) return "csv";
  if (type === "text/tab-separated-values" || name.endsWith(".tsv")) return "tsv";
  if (type.includes("votable") || name.endsWith(".vot") || name.endsWith(".votable")) return "votable";
  if (type.startsWith("text/") || type.endsWith("/xml") || type.endsWith("+xml")) return "text";
  return null;
}

function table(rows) {
  if (!rows.length) return h("p", { class: "muted" }, "(empty table)");
  const [head, ...body] = rows;
  return h("div", { class: "table-wrap" }, h("table", { class: "preview-table" },
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, body.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

function truncatedNote(truncated) {
  return truncated ? h("p", { class: "muted" }, `Only the first ${MAX_BYTES / 1024} KiB are shown.`) : null;
}

/**
 * Fill ``container`` with a preview of ``result``.
 * @param {{id: string, href: string, mimeType: string|null}} result
 * @param {HTMLElement} container
 */
export async function showPreview(result, container) {
  const kind = previewKind(result);
  if (kind === "image") {
    replace(container, h("img", { src: result.href, alt: `Result ${result.id}`, class: "preview-image" }));
    return;
  }
  if (kind === null) {
    replace(container, h("p", { class: "muted" }, `No preview for ${result.mimeType || "this type"}; use the download link.`));
    return;
  }
  if (result.size === 0) {
    replace(container, h("p", { class: "muted" }, "(empty)"));
    return;
  }
  replace(container, h("p", { class: "muted" }, "Loading…"));
  try {
    const { text, truncated } = await uws.getText(result.href, { maxBytes: MAX_BYTES });
    let body;
    if (kind === "json" && !truncated) {
      try { body = h("pre", { class: "output" }, JSON.stringify(JSON.parse(text), null, 2)); } catch { /* as text */ }
    } else if (kind === "csv" || kind === "tsv") {
      body = table(parseDelimited(text, kind === "csv" ? "," : "\t"));
    } else if (kind === "votable" && !truncated) {
      try { body = table(votableRows(uws.parseXml(text))); } catch { /* as text */ }
    }
    replace(container, body || h("pre", { class: "output" }, text || "(empty)"), truncatedNote(truncated));
  } catch (error) {
    replace(container, h("p", { class: "message error" }, `Preview failed: ${error.message}`));
  }
}
