// Tabular previews: CSV/TSV, VOTable TABLEDATA and FITS header cards (pure functions).

/**
 * Split delimited text into rows of cells; double quotes protect separators and line ends.
 * @param {string} text @param {string} [separator] "," or "\t" @param {number} [limit] rows
 * @returns {string[][]}
 */
export function parseDelimited(text, separator = ",", limit = 200) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < limit; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === "") quoted = true;
    else if (c === separator) { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += c;
  }
  if ((cell !== "" || row.length) && rows.length < limit) { row.push(cell); rows.push(row); }
  return rows;
}

/**
 * The first table of a VOTable document: a header row of FIELD names, then TABLEDATA rows.
 * @param {Document} doc @param {number} [limit] @returns {string[][]}
 */
export function votableRows(doc, limit = 200) {
  const table = doc.getElementsByTagNameNS("*", "TABLE")[0];
  if (!table) return [];
  const names = Array.from(table.getElementsByTagNameNS("*", "FIELD"), (f) => f.getAttribute("name") || "");
  const rows = Array.from(table.getElementsByTagNameNS("*", "TR")).slice(0, limit)
    .map((tr) => Array.from(tr.getElementsByTagNameNS("*", "TD"), (td) => td.textContent));
  return [names, ...rows];
}

/**
 * The cards of a FITS primary header (80-character ASCII records up to END), trailing blanks
 * cut; [] when the text does not start as FITS does (with SIMPLE).
 * @param {string} text the file's first bytes @returns {string[]}
 */
export function fitsHeader(text) {
  if (!text.startsWith("SIMPLE  =")) return [];
  const cards = [];
  for (let i = 0; i + 80 <= text.length; i += 80) {
    const card = text.slice(i, i + 80).trimEnd();
    cards.push(card);
    if (card === "END") break;
  }
  return cards;
}
