// Inline previews of results: text, JSON, tables, FITS headers and images, always rendered as text.
import { h, replace, scrollBox } from "./dom.js";
import { fitsHeader, parseDelimited, votableRows } from "./tables.js";
import { uws } from "./common.js";

const MAX_BYTES = 65536;
/** Rows of a table preview; the rest is in the download. */
export const MAX_ROWS = 100;
/** A FITS primary header is read from this many bytes (ten 2880-byte blocks, 360 cards). */
const FITS_BYTES = 28800;

/** What kind of preview suits a result: image, json, csv, tsv, votable, fits, text or null. */
export function previewKind(result) {
  const type = (result.mimeType || "").toLowerCase().split(";")[0].trim();
  const name = (result.href || result.id || "").toLowerCase();
  if (type.endsWith("/fits") || /\.(fits|fit|fts)$/.test(name)) return "fits";
  if (type.startsWith("image/") && type !== "image/svg+xml") return "image";
  if (type === "application/json" || type.endsWith("+json") || name.endsWith(".json")) return "json";
  if (type === "text/csv" || name.endsWith(".csv")) return "csv";
  if (type === "text/tab-separated-values" || name.endsWith(".tsv")) return "tsv";
  if (type.includes("votable") || name.endsWith(".vot") || name.endsWith(".votable")) return "votable";
  if (type.startsWith("text/") || type.endsWith("/xml") || type.endsWith("+xml")) return "text";
  return null;
}

function table(rows, caption) {
  if (!rows.length) return h("p", { class: "muted" }, "(empty table)");
  const [head, ...body] = rows;
  return scrollBox(caption || "Table", h("table", { class: "preview-table" },
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, body.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

/** "Only the first … are shown", with a link to the whole result. */
function cappedNote(what, result) {
  return h("p", { class: "muted capped" }, `Only the first ${what} are shown. `,
    h("a", { href: result.href, download: "" }, "Download all"));
}

/** An image scaled to fit; a click (or Enter) shows it at full size, a second one fits it again. */
function zoomable(result) {
  const image = h("img", { src: result.href, alt: `Result ${result.id}`, class: "preview-image" });
  const button = h("button", { type: "button", class: "zoom", "aria-pressed": "false",
    "aria-label": `Result ${result.id}: show at full size`,
  onclick: () => {
    const zoomed = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(zoomed));
    button.classList.toggle("zoomed", zoomed);
  } }, image);
  return button;
}

/**
 * Fill ``container`` with a preview of ``result``; resolves true when the result is empty.
 * @param {{id: string, href: string, mimeType: string|null, size?: number|null}} result
 * @param {HTMLElement} container
 * @returns {Promise<boolean>}
 */
export async function showPreview(result, container) {
  const kind = previewKind(result);
  if (result.size === 0) {
    replace(container, h("p", { class: "muted" }, "(empty)"));
    return true;
  }
  if (kind === "image") {
    replace(container, zoomable(result));
    return false;
  }
  if (kind === null) {
    replace(container, h("p", { class: "muted" }, `No preview for ${result.mimeType || "this type"}; use the download link.`));
    return false;
  }
  replace(container, h("p", { class: "muted" }, "Loading…"));
  try {
    const bytes = kind === "fits" ? FITS_BYTES : MAX_BYTES;
    const { text, truncated } = await uws.getText(result.href, { maxBytes: bytes });
    if (!text) {
      replace(container, h("p", { class: "muted" }, "(empty)"));
      return true;
    }
    let body;
    let note = truncated ? cappedNote(`${MAX_BYTES / 1024} KiB`, result) : null;
    if (kind === "json" && !truncated) {
      try { body = h("pre", { class: "output" }, JSON.stringify(JSON.parse(text), null, 2)); } catch { /* as text */ }
    } else if (kind === "csv" || kind === "tsv") {
      const rows = parseDelimited(text, kind === "csv" ? "," : "\t", MAX_ROWS + 2);
      if (rows.length > MAX_ROWS + 1) note = cappedNote(`${MAX_ROWS} rows`, result);
      body = table(rows.slice(0, MAX_ROWS + 1), `First rows of ${result.id}`);
    } else if (kind === "votable" && !truncated) {
      try { body = table(votableRows(uws.parseXml(text), MAX_ROWS), `First rows of ${result.id}`); } catch { /* as text */ }
    } else if (kind === "fits") {
      // The header is ASCII cards; the client reads it from the file's first blocks, so the
      // service needs no FITS library and no endpoint of its own for it.
      const cards = fitsHeader(text);
      body = cards.length ? h("pre", { class: "output fits-header", "aria-label": `FITS header of ${result.id}` },
        cards.join("\n")) : h("p", { class: "muted" }, "Not a FITS file (no SIMPLE card); use the download link.");
      note = null;
    }
    replace(container, body || h("pre", { class: "output" }, text), note);
    return false;
  } catch (error) {
    replace(container, h("p", { class: "message error" }, `Preview failed: ${error.message}`));
    return false;
  }
}
