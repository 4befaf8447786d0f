import {
  type DuckDBBlobValue,
  type DuckDBDateValue,
  type DuckDBDecimalValue,
  type DuckDBIntervalValue,
  type DuckDBListValue,
  type DuckDBResult,
  type DuckDBMapValue,
  type DuckDBStructValue,
  type DuckDBTimeTZValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBUnionValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { JsonValue } from '../../core/job.ts';
import {
  civil,
  floatJson,
  isSafeInteger,
  MAX_EXACT_DECIMAL_WIDTH,
  pad,
  timeOfDay,
  timestampJson,
} from '../../core/json-forms.ts';

/**
 * DuckDB values to the documented JSON forms (README "Result types"). Nothing is lost: numbers
 * that JavaScript cannot hold exactly become strings, and every temporal value becomes ISO 8601.
 *
 * Results are stored as Parquet (see parquet-result-store.ts), which has no HUGEINT, UHUGEINT,
 * BIGNUM or UNION: those are stored as VARCHAR (exact) and as DuckDB's STRUCT("" tag, members...)
 * encoding, and this converter reads them back into the same forms.
 */
export type Converter = (value: DuckDBValue) => JsonValue;

/**
 * Converts column by column (node-api reads columns faster than rows), then builds the rows.
 */
export function convertRows(types: DuckDBType[], columns: DuckDBValue[][]): JsonValue[][] {
  const converted = columns.map((column, i) => column.map(converterFor(types[i] ?? types[0]!)));
  const count = converted[0]?.length ?? 0;
  const rows: JsonValue[][] = new Array(count);
  for (let r = 0; r < count; r++) {
    const row: JsonValue[] = new Array(converted.length);
    for (let c = 0; c < converted.length; c++) row[c] = converted[c]![r] ?? null;
    rows[r] = row;
  }
  return rows;
}

/** A streaming result's chunks, each as columns of values. */
export async function* columnChunks(result: DuckDBResult): AsyncGenerator<DuckDBValue[][]> {
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    yield chunk.getColumns();
  }
}

export function converterFor(type: DuckDBType): Converter {
  switch (type.typeId) {
    case DuckDBTypeId.SQLNULL:
      return () => null;
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return nullable((v) => v as number | boolean);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
      return nullable((v) => bigIntJson(v as bigint));
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return nullable((v) => String(v));
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return nullable((v) => floatJson(v as number));
    case DuckDBTypeId.DECIMAL:
      return nullable((v) => decimalJson(v as DuckDBDecimalValue));
    case DuckDBTypeId.VARCHAR:
      return type.alias === 'JSON' ? nullable((v) => JSON.parse(v as string) as JsonValue) : nullable((v) => v as string);
    case DuckDBTypeId.ENUM:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.BIT:
    case DuckDBTypeId.GEOMETRY:
      return nullable((v) => String(v));
    case DuckDBTypeId.BLOB:
      return nullable((v) => Buffer.from((v as DuckDBBlobValue).bytes).toString('base64'));
    case DuckDBTypeId.DATE:
      return nullable((v) => dateJson(v as DuckDBDateValue));
    case DuckDBTypeId.TIME:
      return nullable((v) => timeOfDay(BigInt((v as { micros: bigint }).micros), 6));
    case DuckDBTypeId.TIME_NS:
      return nullable((v) => timeOfDay(BigInt((v as { nanos: bigint }).nanos), 9));
    case DuckDBTypeId.TIME_TZ:
      return nullable((v) => timeTzJson(v as DuckDBTimeTZValue));
    case DuckDBTypeId.TIMESTAMP:
      return nullable((v) => timestampJson((v as { micros: bigint }).micros, 1_000_000n, 6, ''));
    case DuckDBTypeId.TIMESTAMP_TZ:
      return nullable((v) => timestampJson((v as { micros: bigint }).micros, 1_000_000n, 6, 'Z'));
    case DuckDBTypeId.TIMESTAMP_S:
      return nullable((v) => timestampJson((v as { seconds: bigint }).seconds, 1n, 0, ''));
    case DuckDBTypeId.TIMESTAMP_MS:
      return nullable((v) => timestampJson((v as { millis: bigint }).millis, 1000n, 3, ''));
    case DuckDBTypeId.TIMESTAMP_NS:
      return nullable((v) => timestampJson((v as { nanos: bigint }).nanos, 1_000_000_000n, 9, ''));
    case DuckDBTypeId.INTERVAL:
      return nullable((v) => intervalJson(v as DuckDBIntervalValue));
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const item = converterFor(type.valueType);
      return nullable((v) => (v as DuckDBListValue).items.map(item));
    }
    case DuckDBTypeId.MAP: {
      const key = converterFor(type.keyType);
      const value = converterFor(type.valueType);
      return nullable((v) => (v as DuckDBMapValue).entries.map((e) => ({ key: key(e.key), value: value(e.value) })));
    }
    case DuckDBTypeId.STRUCT: {
      const names = type.entryNames;
      const fields = type.entryTypes.map(converterFor);
      // A UNION stored in Parquet comes back as STRUCT("" tag, member, ...): one member is set.
      if (names[0] === '' && type.entryTypes[0]?.typeId === DuckDBTypeId.UTINYINT) {
        return nullable((v) => {
          const entries = (v as DuckDBStructValue).entries;
          const tag = Number(entries[''] as number);
          const name = names[tag + 1] ?? '';
          return { [name]: fields[tag + 1]?.(entries[name] ?? null) ?? null };
        });
      }
      return nullable((v) => {
        const entries = (v as DuckDBStructValue).entries;
        const out: Record<string, JsonValue> = {};
        names.forEach((name, i) => (out[name] = fields[i]?.(entries[name] ?? null) ?? null));
        return out;
      });
    }
    case DuckDBTypeId.UNION: {
      const members = new Map(type.memberTags.map((tag, i) => [tag, converterFor(type.memberTypes[i] ?? type)]));
      return nullable((v) => {
        const union = v as DuckDBUnionValue;
        return { [union.tag]: members.get(union.tag)?.(union.value) ?? null };
      });
    }
    default:
      return nullable((v) => String(v));
  }
}

function nullable(convert: (value: DuckDBValue) => JsonValue): Converter {
  return (value) => (value === null || value === undefined ? null : convert(value));
}

function bigIntJson(v: bigint): JsonValue {
  return isSafeInteger(v) ? Number(v) : v.toString();
}

function decimalJson(v: DuckDBDecimalValue): JsonValue {
  const text = v.toString();
  return v.width <= MAX_EXACT_DECIMAL_WIDTH ? Number(text) : text;
}

function dateJson(v: DuckDBDateValue): string {
  if (!v.isFinite) return v.days > 0 ? 'infinity' : '-infinity';
  return civil(v.days);
}

function offsetJson(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const abs = Math.abs(seconds);
  return `${sign}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor(abs / 60) % 60, 2)}`;
}

function timeTzJson(v: DuckDBTimeTZValue): string {
  return `${timeOfDay(BigInt(v.micros), 6)}${offsetJson(v.offset)}`;
}

/** ISO 8601 duration: months and days kept apart (a month has no fixed length), e.g. P1Y2M3DT4H5M6.5S. */
function intervalJson(v: DuckDBIntervalValue): string {
  const years = Math.trunc(v.months / 12);
  const months = v.months % 12;
  let micros = BigInt(v.micros);
  const negative = micros < 0n;
  if (negative) micros = -micros;
  const hours = micros / 3_600_000_000n;
  const minutes = (micros / 60_000_000n) % 60n;
  const seconds = (micros / 1_000_000n) % 60n;
  const fraction = micros % 1_000_000n;
  const sign = negative ? '-' : '';
  let date = '';
  if (years) date += `${years}Y`;
  if (months) date += `${months}M`;
  if (v.days) date += `${v.days}D`;
  let time = '';
  if (hours) time += `${sign}${hours}H`;
  if (minutes) time += `${sign}${minutes}M`;
  if (seconds || fraction) {
    const frac = fraction ? `.${pad(fraction, 6).replace(/0+$/, '')}` : '';
    time += `${sign}${seconds}${frac}S`;
  }
  if (!date && !time) return 'PT0S';
  return `P${date}${time ? `T${time}` : ''}`;
}
