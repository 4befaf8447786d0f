import { Field } from 'apache-arrow';
import type { ArrowColumn } from '../arrow-batches.ts';
import {
  BinaryBuilder,
  BoolBuilder,
  type ColumnBuilder,
  converting,
  DateDayBuilder,
  Decimal128Builder,
  Float64Builder,
  Int64Builder,
  Time64Builder,
  TimestampMicrosBuilder,
  Utf8Builder,
} from '../arrow-columns.ts';
import {
  converterOf,
  type DriverColumn,
  type DriverTimestamp,
  epochDays,
  epochNanos,
  realValue,
  timeNanos,
} from './snowflake-values.ts';

/**
 * Snowflake columns as Arrow columns, for the Arrow and Parquet downloads. Every value is read as
 * its JSON form reads it (snowflake-values.ts), so the formats agree:
 *
 * | Snowflake                     | Arrow                                  |
 * |-------------------------------|----------------------------------------|
 * | NUMBER(p,0), p <= 18          | Int64                                  |
 * | NUMBER(p,s) otherwise         | Decimal128(p, s) (exact; INT is NUMBER(38,0)) |
 * | FLOAT                         | Float64                                |
 * | VARCHAR                       | Utf8                                   |
 * | BOOLEAN                       | Bool                                   |
 * | DATE                          | Date32 (days)                          |
 * | TIME(s)                       | Time64: microseconds, nanoseconds for s > 6 |
 * | TIMESTAMP_NTZ                 | Timestamp(microseconds), no time zone  |
 * | TIMESTAMP_LTZ, TIMESTAMP_TZ   | Timestamp(microseconds, "UTC")         |
 * | BINARY                        | Binary                                 |
 * | VARIANT, OBJECT, ARRAY, MAP, other | Utf8: the value's JSON text, as in CSV |
 *
 * Timestamps are microseconds whatever their scale: nanoseconds would not reach past 2262 (nor
 * the 9999-12-31 that warehouses use for "no end"); digits past the sixth are cut (floored).
 */
export function arrowColumnOf(column: DriverColumn): ArrowColumn {
  const builder = builderOf(column);
  return { field: new Field(column.getName(), builder.type, column.isNullable()), builder };
}

function builderOf(column: DriverColumn): ColumnBuilder<unknown> {
  const type = column.getType().toLowerCase();
  const scale = column.getScale();
  const precision = column.getPrecision();
  switch (type) {
    case 'fixed':
      if (scale === 0 && precision <= 18) return converting(new Int64Builder(), (v) => BigInt(String(v)));
      return converting(new Decimal128Builder(precision, scale), (v) => unscaled(String(v), scale));
    case 'real':
      return converting(new Float64Builder(), realValue);
    case 'text':
      return converting(new Utf8Builder(), String);
    case 'boolean':
      return converting(new BoolBuilder(), Boolean);
    case 'date':
      return converting(new DateDayBuilder(), (v) => epochDays(v as DriverTimestamp));
    case 'time': {
      const nanos = scale > 6;
      return converting(new Time64Builder(nanos ? 'nanosecond' : 'microsecond'), (v) => {
        const value = timeNanos(String(v), scale);
        return nanos ? value : value / 1000n;
      });
    }
    case 'timestamp_ntz':
      return converting(new TimestampMicrosBuilder(null), (v) => micros(v as DriverTimestamp));
    case 'timestamp_ltz':
    case 'timestamp_tz':
      // An instant, in UTC as its JSON form is (the offset of a TIMESTAMP_TZ is not kept there either).
      return converting(new TimestampMicrosBuilder('UTC'), (v) => micros(v as DriverTimestamp));
    case 'binary':
      return converting(new BinaryBuilder(), (v) => v as Uint8Array);
    default: {
      // Semi-structured and unknown types: the JSON form's text, as CSV spells it.
      const json = converterOf(column);
      return converting(new Utf8Builder(), (v) => {
        const value = json(v);
        return typeof value === 'string' ? value : JSON.stringify(value);
      });
    }
  }
}

/** A NUMBER's wire text as an unscaled integer: '-1.50' at scale 2 is -150n. */
export function unscaled(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const [whole = '', fraction = ''] = (negative || text.startsWith('+') ? text.slice(1) : text).split('.');
  const digits = `${whole}${fraction.padEnd(scale, '0').slice(0, scale)}`;
  const value = BigInt(digits === '' ? '0' : digits);
  return negative ? -value : value;
}

/** Microseconds since the epoch, floored as the JSON form's digits are. */
function micros(value: DriverTimestamp): bigint {
  const nanos = epochNanos(value);
  return nanos >= 0n ? nanos / 1000n : -((-nanos + 999n) / 1000n);
}
