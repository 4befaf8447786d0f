import {
  type DuckDBBlobValue,
  type DuckDBDateValue,
  type DuckDBDecimalValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api';

/**
 * DuckDB result columns as Snowflake's JSON result format describes them (`rowtype`), and DuckDB
 * values as Snowflake's wire strings (the JSON result format's rowset: every value a string or null).
 */
export interface RowType {
  name: string;
  type: string;
  precision?: number;
  scale: number;
  nullable: boolean;
  length?: number;
  byteLength?: number;
}

export function rowTypeOf(name: string, type: DuckDBType): RowType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return { name, type: 'boolean', scale: 0, nullable: true };
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
      return { name, type: 'fixed', precision: 38, scale: 0, nullable: true };
    case DuckDBTypeId.DECIMAL:
      return { name, type: 'fixed', precision: type.width, scale: type.scale, nullable: true };
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return { name, type: 'real', scale: 0, nullable: true };
    case DuckDBTypeId.DATE:
      return { name, type: 'date', scale: 0, nullable: true };
    case DuckDBTypeId.TIME:
      return { name, type: 'time', scale: 9, nullable: true };
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return { name, type: 'timestamp_ntz', scale: 9, nullable: true };
    case DuckDBTypeId.TIMESTAMP_TZ:
      return { name, type: 'timestamp_tz', scale: 9, nullable: true };
    case DuckDBTypeId.BLOB:
      return { name, type: 'binary', scale: 0, nullable: true, length: 8388608, byteLength: 8388608 };
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { name, type: 'array', scale: 0, nullable: true };
    case DuckDBTypeId.STRUCT:
    case DuckDBTypeId.MAP:
      return { name, type: 'object', scale: 0, nullable: true };
    default:
      return { name, type: 'text', scale: 0, nullable: true, length: 16777216, byteLength: 16777216 };
  }
}

const pad9 = (n: bigint): string => n.toString().padStart(9, '0');

/** Seconds since the epoch with nine fraction digits, from a count of `perSecond` units. */
function epochSeconds(units: bigint, perSecond: bigint): string {
  const nanos = (units * 1_000_000_000n) / perSecond;
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  return `${negative ? '-' : ''}${abs / 1_000_000_000n}.${pad9(abs % 1_000_000_000n)}`;
}

/**
 * One cell as Snowflake sends it: a string, or null for SQL NULL. `json` is the same cell in
 * node-api's JSON form, used for the semi-structured types (sent as JSON text).
 */
export function wireValue(value: DuckDBValue, json: unknown, type: DuckDBType): string | null {
  if (value === null || value === undefined) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return value ? '1' : '0';
    case DuckDBTypeId.DECIMAL:
      return (value as DuckDBDecimalValue).toString();
    case DuckDBTypeId.DATE:
      return String((value as DuckDBDateValue).days);
    case DuckDBTypeId.TIME:
      return epochSeconds(BigInt((value as { micros: bigint }).micros), 1_000_000n);
    case DuckDBTypeId.TIMESTAMP:
      return epochSeconds((value as { micros: bigint }).micros, 1_000_000n);
    case DuckDBTypeId.TIMESTAMP_S:
      return epochSeconds((value as { seconds: bigint }).seconds, 1n);
    case DuckDBTypeId.TIMESTAMP_MS:
      return epochSeconds((value as { millis: bigint }).millis, 1000n);
    case DuckDBTypeId.TIMESTAMP_NS:
      return epochSeconds((value as { nanos: bigint }).nanos, 1_000_000_000n);
    case DuckDBTypeId.TIMESTAMP_TZ:
      // Snowflake's TIMESTAMP_TZ: epoch seconds and the zone as minutes + 1440 (UTC here).
      return `${epochSeconds((value as { micros: bigint }).micros, 1_000_000n)} 1440`;
    case DuckDBTypeId.BLOB:
      return Buffer.from((value as DuckDBBlobValue).bytes).toString('hex').toUpperCase();
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
    case DuckDBTypeId.STRUCT:
    case DuckDBTypeId.MAP:
      return JSON.stringify(json);
    default:
      return String(value);
  }
}
