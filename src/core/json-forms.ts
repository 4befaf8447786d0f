import type { JsonValue } from './job.ts';

/**
 * The documented JSON forms of result values (README "Result types") that every warehouse shares:
 * numbers JavaScript cannot hold exactly become strings, non-finite floats are named, and dates and
 * timestamps are ISO 8601. Pure and dependency-free; each adapter maps its driver's values onto these.
 */

export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Decimals up to 15 digits survive a round trip through a double; wider ones stay strings. */
export const MAX_EXACT_DECIMAL_WIDTH = 15;

/** Whether an integer fits a JavaScript number exactly. */
export function isSafeInteger(v: bigint): boolean {
  return v <= MAX_SAFE && v >= -MAX_SAFE;
}

export function floatJson(v: number): JsonValue {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

export const pad = (n: number | bigint, width: number): string => String(n).padStart(width, '0');

/** Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days). */
export function civil(days: number): string {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  // ISO 8601: four digits in 0000..9999, otherwise a sign and six digits.
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : `${y < 0 ? '-' : '+'}${pad(Math.abs(y), 6)}`;
  return `${year}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** `HH:MM:SS` plus `digits` fraction digits, from units since midnight. */
export function timeOfDay(units: bigint, digits: number): string {
  const perSecond = 10n ** BigInt(digits);
  const seconds = units / perSecond;
  const fraction = units % perSecond;
  const hms = `${pad(seconds / 3600n, 2)}:${pad((seconds / 60n) % 60n, 2)}:${pad(seconds % 60n, 2)}`;
  return digits > 0 ? `${hms}.${pad(fraction, digits)}` : hms;
}

const INFINITY_TIMESTAMP = 2n ** 63n - 1n;

/** A timestamp of `units` since the epoch (`perSecond` of them a second), `digits` fraction digits. */
export function timestampJson(units: bigint, perSecond: bigint, digits: number, zone: string): string {
  if (units === INFINITY_TIMESTAMP) return 'infinity';
  if (units === -INFINITY_TIMESTAMP) return '-infinity';
  const perDay = perSecond * 86_400n;
  let days = units / perDay;
  let rest = units % perDay;
  if (rest < 0n) {
    rest += perDay;
    days -= 1n;
  }
  return `${civil(Number(days))}T${timeOfDay(rest, digits)}${zone}`;
}

/**
 * One CSV record (RFC 4180, `\n`-terminated) of values in their JSON forms, so that CSV spells every
 * value exactly as NDJSON and GraphQL pages do: a string as itself, a number or boolean as its JSON
 * text, NULL as an empty field, an empty string as `""` (so the two stay apart), and a list, struct,
 * map or JSON value as its compact JSON text. Fields with a comma, quote or line break are quoted.
 */
export function csvRecord(values: readonly JsonValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += ',';
    line += csvCell(values[i] ?? null);
  }
  return `${line}\n`;
}

function csvCell(value: JsonValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value === '' ? '""' : csvText(value);
  if (typeof value === 'object') return csvText(JSON.stringify(value));
  return String(value);
}

const NEEDS_QUOTES = /[",\r\n]/;

function csvText(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
