// The seed article's `title` worker: PHP's ucwords(strtolower($workload)).
// Both PHP functions are ASCII-only (PHP 8.2+), so bytes outside A-Z/a-z pass through
// unchanged, exactly as the PHP worker returns them.

const kDelimiters = new Set([' ', '\t', '\r', '\n', '\f', '\v']);

/** @param {string} text */
export function title(text) {
  let out = '';
  let atWordStart = true;
  for (const ch of text) {
    const lower = ch >= 'A' && ch <= 'Z' ? String.fromCharCode(ch.charCodeAt(0) + 32) : ch;
    out +=
      atWordStart && lower >= 'a' && lower <= 'z' ? String.fromCharCode(lower.charCodeAt(0) - 32) : lower;
    atWordStart = kDelimiters.has(ch);
  }
  return out;
}

/** @param {string} payload */
export default async function handler(payload) {
  return title(payload);
}
