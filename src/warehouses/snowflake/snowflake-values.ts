import type { JsonValue } from '../../core/job.ts';
import { civil, floatJson, isSafeInteger, MAX_EXACT_DECIMAL_WIDTH, timestampJson } from '../../core/json-forms.ts';
import type { Column } from '../../core/results.ts';

/**
 * Snowflake result cells in jobql's documented JSON forms (the README's type table), the same
 * forms as DuckDB's. The driver is asked for NUMBER, JSON, OBJECT and ARRAY as their exact wire
 * text (`fetchAsString`) and gives dates and timestamps as objects that keep epoch seconds and
 * nanoseconds; TIME comes as text in the session's TIME_OUTPUT_FORMAT, which the adapter sets
 * to nine fraction digits. The readers of driver values (`realValue`, `epochNanos`, ...) are shared
 * with the Arrow forms (snowflake-arrow.ts), so both read every value alike.
 */

/** The driver types asked for as text, so that nothing is rounded on the way. */
export const FETCH_AS_STRING = ['Number', 'JSON', 'OBJECT', 'ARRAY'];

/** What jobql reads of a driver column (snowflake-sdk's `Column`). */
export interface DriverColumn {
  getName(): string;
  getType(): string;
  getScale(): number;
  getPrecision(): number;
  isNullable(): boolean;
}

/** A timestamp or date as the driver gives it (its SfDate/SfTimestamp). */
export interface DriverTimestamp {
  getEpochSeconds(): number;
  getNanoSeconds(): number;
}

export type CellConverter = (value: unknown) => JsonValue;

export function columnOf(column: DriverColumn): Column {
  const type = column.getType().toLowerCase();
  const scale = column.getScale();
  const precision = column.getPrecision();
  const typeName =
    type === 'fixed'
      ? `NUMBER(${precision},${scale})`
      : type === 'real'
        ? 'FLOAT'
        : type === 'text'
          ? 'VARCHAR'
          : type.startsWith('timestamp_') || type === 'time'
            ? `${type.toUpperCase()}(${scale})`
            : type.toUpperCase();
  return {
    name: column.getName(),
    type: typeName,
    nullable: column.isNullable(),
  };
}

export function converterOf(column: DriverColumn): CellConverter {
  const type = column.getType().toLowerCase();
  const scale = column.getScale();
  switch (type) {
    case 'fixed':
      if (scale === 0) return nullable((v) => integerJson(String(v)));
      return column.getPrecision() <= MAX_EXACT_DECIMAL_WIDTH ? nullable((v) => Number(v)) : nullable((v) => String(v));
    case 'real':
      return nullable((v) => floatJson(realValue(v)));
    case 'boolean':
      return nullable((v) => Boolean(v));
    case 'date':
      return nullable((v) => civil(epochDays(v as DriverTimestamp)));
    case 'time':
      // 'HH24:MI:SS.FF9' (the session format the adapter sets), cut to the column's scale.
      return nullable((v) => timeJson(String(v), scale));
    case 'timestamp_ntz':
      return nullable((v) => instantJson(v as DriverTimestamp, scale, ''));
    case 'timestamp_ltz':
    case 'timestamp_tz':
      // An instant: written in UTC, as DuckDB's TIMESTAMPTZ is.
      return nullable((v) => instantJson(v as DriverTimestamp, scale, 'Z'));
    case 'binary':
      return nullable((v) => (v as Buffer).toString('base64'));
    case 'variant':
    case 'object':
    case 'array':
    case 'map':
      return nullable((v) => (typeof v === 'string' ? (JSON.parse(v) as JsonValue) : (v as JsonValue)));
    default:
      return nullable((v) => String(v));
  }
}

function nullable(convert: (value: unknown) => JsonValue): CellConverter {
  return (value) => (value === null || value === undefined ? null : convert(value));
}

function integerJson(text: string): JsonValue {
  const n = BigInt(text);
  return isSafeInteger(n) ? Number(n) : text;
}

function timeJson(text: string, scale: number): string {
  const [hms = text, fraction = ''] = text.split('.');
  return scale > 0 ? `${hms}.${fraction.padEnd(9, '0').slice(0, scale)}` : hms;
}

/** A driver row as its JSON forms, one converter per column. */
export function convertRow(row: readonly unknown[], converters: readonly CellConverter[]): JsonValue[] {
  return converters.map((convert, i) => convert(row[i]));
}

/** A FLOAT as its wire text: a number, `NaN`, or `inf`/`-inf` (which `Number` does not read). */
export function realValue(value: unknown): number {
  if (typeof value === 'number') return value;
  const text = String(value).trim();
  return /^[+-]?inf(inity)?$/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text);
}

/** Nanoseconds since the epoch of a driver timestamp (its seconds are whole, its nanoseconds never negative). */
export function epochNanos(value: DriverTimestamp): bigint {
  return BigInt(Math.round(value.getEpochSeconds())) * 1_000_000_000n + BigInt(value.getNanoSeconds());
}

/** Days since the epoch of a driver date. */
export function epochDays(value: DriverTimestamp): number {
  return Math.floor(value.getEpochSeconds() / 86_400);
}

/** Nanoseconds since midnight of a TIME's text ('HH24:MI:SS.FF9'), cut to the column's scale as its JSON form is. */
export function timeNanos(text: string, scale: number): bigint {
  const [hms = text, fraction = ''] = text.split('.');
  const [h = 0, m = 0, s = 0] = hms.split(':').map(Number);
  const digits = Math.min(Math.max(scale, 0), 9);
  const kept = fraction.padEnd(9, '0').slice(0, digits).padEnd(9, '0');
  return BigInt((h * 60 + m) * 60 + s) * 1_000_000_000n + BigInt(kept);
}

function instantJson(value: DriverTimestamp, scale: number, zone: string): string {
  const nanos = epochNanos(value);
  const digits = Math.min(Math.max(scale, 0), 9);
  const unitNanos = 10n ** BigInt(9 - digits);
  const units = nanos >= 0n ? nanos / unitNanos : -((-nanos + unitNanos - 1n) / unitNanos);
  return timestampJson(units, 10n ** BigInt(digits), digits, zone);
}
