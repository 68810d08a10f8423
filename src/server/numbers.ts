/**
 * C's strtol/atoi on ASCII bytes, as gearmand reads the numbers in packets: leading
 * blanks, an optional sign, then digits up to the first non-digit; no digits gives 0
 * ("abc" and a binary-encoded number both read as 0). Saturates instead of overflowing.
 */
export function parseCInteger(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n && (bytes[i] === 0x20 || ((bytes[i] as number) >= 0x09 && (bytes[i] as number) <= 0x0d))) i++;
  let sign = 1;
  if (i < n && (bytes[i] === 0x2b || bytes[i] === 0x2d)) {
    if (bytes[i] === 0x2d) sign = -1;
    i++;
  }
  let value = 0;
  for (; i < n; i++) {
    const digit = (bytes[i] as number) - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
    if (value > Number.MAX_SAFE_INTEGER) {
      value = Number.MAX_SAFE_INTEGER;
      break;
    }
  }
  return sign * value;
}

/** atoi() stored into a uint32, as gearmand keeps WORK_STATUS numerators and denominators. */
export function toUint32(value: number): number {
  return value >>> 0;
}
