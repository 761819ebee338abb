// A line diff (longest common subsequence), for the editor's "what changes" before saving.

/**
 * The lines of ``before`` and ``after`` as ``[mark, line]``: " " kept, "-" removed, "+" added.
 * Quadratic in lines: descriptions and scripts are a few hundred lines at most.
 * @param {string} before @param {string} after @returns {[string, string][]}
 */
export function lineDiff(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  // common[i][j]: the longest common subsequence of a[i:] and b[j:].
  const common = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push([" ", a[i]]); i += 1; j += 1; }
    else if (i < a.length && (j === b.length || common[i + 1][j] >= common[i][j + 1])) { out.push(["-", a[i]]); i += 1; }
    else { out.push(["+", b[j]]); j += 1; }
  }
  return out;
}

/** Only the changed lines and ``context`` lines around them; "…" where lines are left out. */
export function changedLines(diff, context = 2) {
  const near = diff.map((_, index) => diff.slice(Math.max(0, index - context), index + context + 1)
    .some(([mark]) => mark !== " "));
  const out = [];
  diff.forEach((entry, index) => {
    if (near[index]) out.push(entry);
    else if (out.at(-1)?.[0] !== "…") out.push(["…", ""]);
  });
  return out;
}
