// Times and spans as the client shows them: one absolute format, relative times, durations.

/** An ISO time in the one format of the client: ISO 8601 in the local zone, 24 h. */
export function absoluteTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const zone = `${offset < 0 ? "-" : "+"}${pad(offset / 60)}:${pad(offset % 60)}`;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}`;
}

/** A span of seconds in words: "45 s", "3 min 05 s", "2 h 04 min", "3 d 5 h". */
export function spanText(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const two = (n) => String(n).padStart(2, "0");
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${two(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${two(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** How long ago (or until when) an ISO time is, from ``now`` (ms): "3 min ago", "in 2 d 1 h". */
export function relativeTime(iso, now = Date.now()) {
  const seconds = (now - new Date(iso).getTime()) / 1000;
  if (Number.isNaN(seconds)) return String(iso);
  if (Math.abs(seconds) < 5) return "just now";
  const s = Math.round(Math.abs(seconds));
  const [big, unit, small, smallUnit] = s < 60 ? [s, "s", 0, ""] : s < 3600 ? [Math.floor(s / 60), "min", 0, ""]
    : s < 86400 ? [Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "min"]
      : [Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h"];
  const span = `${big} ${unit}${small ? ` ${small} ${smallUnit}` : ""}`;
  return seconds > 0 ? `${span} ago` : `in ${span}`;
}

/** How long a job ran (start to end), or has run so far (start to now); null before it starts. */
export function durationSeconds(startIso, endIso, now = Date.now()) {
  if (!startIso) return null;
  const end = endIso ? new Date(endIso).getTime() : now;
  return Math.max(0, (end - new Date(startIso).getTime()) / 1000);
}
