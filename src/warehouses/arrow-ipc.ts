/**
 * One Arrow IPC stream (schema message, record batch messages, end marker) from many small ones.
 * parquet-wasm's `intoIPCStream` and apache-arrow's `tableToIPC` both write a whole stream for
 * each batch; a download sends the first one's schema once, every batch's messages, and one end
 * marker. A result of no rows is its schema alone. Batches with dictionaries are not expected
 * (neither warehouse makes them): their dictionary messages would repeat.
 */

/** The end-of-stream marker: a continuation token and a zero length. */
export const END_OF_STREAM = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/** Bytes taken by an IPC stream's first (schema) message: continuation, length, metadata. */
export function schemaMessageLength(ipc: Uint8Array): number {
  const view = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
  return 8 + view.getInt32(4, true);
}

/**
 * The joined stream. `streams` are whole streams of one batch each, all of the same schema;
 * `schemaOnly` gives the stream to send when there is none (it is asked for only then).
 */
export async function* joinedIpcStream(
  streams: AsyncIterable<Uint8Array>,
  schemaOnly: () => Uint8Array | Promise<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let first = true;
  for await (const ipc of streams) {
    yield ipc.subarray(first ? 0 : schemaMessageLength(ipc), ipc.length - END_OF_STREAM.length);
    first = false;
  }
  yield first ? await schemaOnly() : END_OF_STREAM;
}
