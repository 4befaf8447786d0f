import {
  Binary,
  Bool,
  type Data,
  type DataType,
  DateDay,
  Decimal,
  Float64,
  Int64,
  makeData,
  TimeMicrosecond,
  TimeNanosecond,
  TimestampMicrosecond,
  Utf8,
} from 'apache-arrow';

/**
 * Arrow columns built value by value into plain typed arrays, one record batch at a time. The
 * arrays start at the size the previous batch reached and double when full, so a batch costs its
 * own values and nothing more; `finish` hands them over (the batch keeps them) and starts afresh.
 * apache-arrow's own builders are not used: they take timestamps as milliseconds, which would cut
 * sub-millisecond digits, and they hide how many bytes a batch holds.
 */
export interface ColumnBuilder<T> {
  readonly type: DataType;
  /** Appends one value; null for SQL NULL. */
  append(value: T | null): void;
  /** Bytes held by the values appended since the last `finish` (validity bits aside). */
  readonly bytes: number;
  /** The values appended since the last `finish`, as Arrow data; the builder starts over empty. */
  finish(): Data;
}

const INITIAL_VALUES = 1024;

type FixedArray = BigInt64Array | BigUint64Array | Float64Array | Int32Array | Uint8Array;

/** Doubles `array` (or more, to hold `needed` items), keeping its contents. */
function grown<A extends FixedArray>(array: A, needed: number, make: (length: number) => A): A {
  let length = Math.max(array.length, 1);
  while (length < needed) length *= 2;
  if (length === array.length) return array;
  const bigger = make(length);
  bigger.set(array as never);
  return bigger;
}

/** Validity bits: a set bit is a value, a clear one a NULL. */
class Validity {
  #bits = new Uint8Array(INITIAL_VALUES / 8);
  #nulls = 0;

  mark(index: number, valid: boolean): void {
    const byte = index >> 3;
    if (byte >= this.#bits.length) this.#bits = grown(this.#bits, byte + 1, (n) => new Uint8Array(n));
    if (valid) this.#bits[byte]! |= 1 << (index & 7);
    else this.#nulls += 1;
  }

  /** The bits of the first `length` values (none when every value is set); starts over. */
  take(length: number): { nullCount: number; nullBitmap?: Uint8Array } {
    const nullCount = this.#nulls;
    const bits = this.#bits.subarray(0, Math.ceil(length / 8));
    this.#bits = new Uint8Array(this.#bits.length);
    this.#nulls = 0;
    return nullCount > 0 ? { nullCount, nullBitmap: bits } : { nullCount };
  }
}

/** A column of fixed-width values in one typed array (`stride` array items per value). */
abstract class FixedBuilder<T, A extends FixedArray> implements ColumnBuilder<T> {
  abstract readonly type: DataType;
  protected values: A;
  protected length = 0;
  readonly #validity = new Validity();
  readonly #make: (length: number) => A;
  readonly #stride: number;

  constructor(make: (length: number) => A, stride = 1) {
    this.#make = make;
    this.#stride = stride;
    this.values = make(INITIAL_VALUES * stride);
  }

  get bytes(): number {
    return this.length * this.#stride * this.values.BYTES_PER_ELEMENT;
  }

  append(value: T | null): void {
    const index = this.length++;
    if ((index + 1) * this.#stride > this.values.length) {
      this.values = grown(this.values, (index + 1) * this.#stride, this.#make);
    }
    this.#validity.mark(index, value !== null);
    if (value !== null) this.write(index, value);
  }

  protected abstract write(index: number, value: T): void;

  protected take(): { length: number; values: A; nullCount: number; nullBitmap?: Uint8Array } {
    const length = this.length;
    const values = this.values.subarray(0, length * this.#stride) as A;
    this.values = this.#make(this.values.length);
    this.length = 0;
    return { length, values, ...this.#validity.take(length) };
  }

  abstract finish(): Data;
}

/** One typed-array item per value, stored as given: integers, floats, days, time units. */
class WordBuilder<T extends number | bigint, A extends BigInt64Array | Float64Array | Int32Array> extends FixedBuilder<T, A> {
  readonly type: DataType;
  constructor(type: DataType, make: (length: number) => A) {
    super(make);
    this.type = type;
  }
  protected write(index: number, value: T): void {
    // T and A agree by construction (bigint with a BigInt64Array, number otherwise).
    (this.values as unknown as T[])[index] = value;
  }
  finish(): Data {
    const { values, ...rest } = this.take();
    // makeData lays out by `type` at run time; its overloads need the type known statically.
    return makeData({ type: this.type as Int64, ...rest, data: values as BigInt64Array });
  }
}

export class Int64Builder extends WordBuilder<bigint, BigInt64Array> {
  constructor() {
    super(new Int64(), (n) => new BigInt64Array(n));
  }
}

export class Float64Builder extends WordBuilder<number, Float64Array> {
  constructor() {
    super(new Float64(), (n) => new Float64Array(n));
  }
}

/** Days since 1970-01-01. */
export class DateDayBuilder extends WordBuilder<number, Int32Array> {
  constructor() {
    super(new DateDay(), (n) => new Int32Array(n));
  }
}

/** Microseconds since the epoch; `timezone` null for a wall-clock timestamp. */
export class TimestampMicrosBuilder extends WordBuilder<bigint, BigInt64Array> {
  constructor(timezone: string | null) {
    super(new TimestampMicrosecond(timezone), (n) => new BigInt64Array(n));
  }
}

/** Time of day in micro- or nanoseconds since midnight. */
export class Time64Builder extends WordBuilder<bigint, BigInt64Array> {
  constructor(unit: 'microsecond' | 'nanosecond') {
    super(unit === 'microsecond' ? new TimeMicrosecond() : new TimeNanosecond(), (n) => new BigInt64Array(n));
  }
}

/** 128-bit decimals, given as their unscaled integer (1.50 at scale 2 is 150n). */
export class Decimal128Builder extends FixedBuilder<bigint, BigUint64Array> {
  readonly type: Decimal;
  constructor(precision: number, scale: number) {
    super((n) => new BigUint64Array(n), 2);
    this.type = new Decimal(scale, precision, 128);
  }
  protected write(index: number, value: bigint): void {
    // Two's complement, least significant 64-bit word first (Arrow is little-endian).
    this.values[2 * index] = BigInt.asUintN(64, value);
    this.values[2 * index + 1] = BigInt.asUintN(64, value >> 64n);
  }
  finish(): Data {
    const { values, ...rest } = this.take();
    return makeData({ type: this.type, ...rest, data: new Uint32Array(values.buffer, values.byteOffset, values.length * 2) });
  }
}

export class BoolBuilder implements ColumnBuilder<boolean> {
  readonly type = new Bool();
  #values = new Uint8Array(INITIAL_VALUES / 8);
  #length = 0;
  readonly #validity = new Validity();

  get bytes(): number {
    return Math.ceil(this.#length / 8);
  }

  append(value: boolean | null): void {
    const index = this.#length++;
    const byte = index >> 3;
    if (byte >= this.#values.length) this.#values = grown(this.#values, byte + 1, (n) => new Uint8Array(n));
    this.#validity.mark(index, value !== null);
    if (value) this.#values[byte]! |= 1 << (index & 7);
  }

  finish(): Data {
    const length = this.#length;
    const data = this.#values.subarray(0, Math.ceil(length / 8));
    this.#values = new Uint8Array(this.#values.length);
    this.#length = 0;
    return makeData({ type: this.type, length, ...this.#validity.take(length), data });
  }
}

/** Variable-width values: 32-bit offsets into one byte buffer. */
abstract class VariableBuilder<T> implements ColumnBuilder<T> {
  abstract readonly type: DataType;
  protected data = new Uint8Array(INITIAL_VALUES * 16);
  protected end = 0;
  #offsets = new Int32Array(INITIAL_VALUES + 1);
  #length = 0;
  readonly #validity = new Validity();

  get bytes(): number {
    return this.end + 4 * (this.#length + 1);
  }

  append(value: T | null): void {
    const index = this.#length++;
    if (index + 2 > this.#offsets.length) this.#offsets = grown(this.#offsets, index + 2, (n) => new Int32Array(n));
    this.#validity.mark(index, value !== null);
    if (value !== null) this.write(value);
    if (this.end > 0x7fffffff) throw new RangeError('An Arrow batch holds at most 2 GiB of one column');
    this.#offsets[index + 1] = this.end;
  }

  /** Room for `more` bytes after `end`. */
  protected reserve(more: number): void {
    if (this.end + more > this.data.length) this.data = grown(this.data, this.end + more, (n) => new Uint8Array(n));
  }

  protected abstract write(value: T): void;

  finish(): Data {
    // Utf8 and Binary share this layout (offsets and bytes); makeData picks by `type` at run time.
    return makeData({ type: this.type as Utf8, ...this.take() });
  }

  protected take(): { length: number; valueOffsets: Int32Array; data: Uint8Array; nullCount: number; nullBitmap?: Uint8Array } {
    const length = this.#length;
    const taken = {
      length,
      valueOffsets: this.#offsets.subarray(0, length + 1),
      data: this.data.subarray(0, this.end),
      ...this.#validity.take(length),
    };
    this.#offsets = new Int32Array(this.#offsets.length);
    this.data = new Uint8Array(this.data.length);
    this.#length = 0;
    this.end = 0;
    return taken;
  }
}

const encoder = new TextEncoder();

export class Utf8Builder extends VariableBuilder<string> {
  readonly type = new Utf8();
  protected write(value: string): void {
    // UTF-8 takes at most three bytes per UTF-16 code unit.
    this.reserve(value.length * 3);
    this.end += encoder.encodeInto(value, this.data.subarray(this.end)).written;
  }
}

export class BinaryBuilder extends VariableBuilder<Uint8Array> {
  readonly type = new Binary();
  protected write(value: Uint8Array): void {
    this.reserve(value.length);
    this.data.set(value, this.end);
    this.end += value.length;
  }
}

/** A builder that takes values as a driver gives them: `convert` makes each non-null one a `T`. */
export function converting<T>(builder: ColumnBuilder<T>, convert: (value: unknown) => T): ColumnBuilder<unknown> {
  return {
    type: builder.type,
    append: (value) => builder.append(value === null || value === undefined ? null : convert(value)),
    get bytes() {
      return builder.bytes;
    },
    finish: () => builder.finish(),
  };
}
