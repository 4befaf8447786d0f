import fs from 'node:fs';
import type { Plugin } from 'graphql-yoga';
import { RequestError, RequestErrorCode, requestError } from '../core/errors.ts';
import { graphQLError } from './errors.ts';

/** What a request names its document by: the text, a hash in `extensions`, or a `documentId`. */
export interface DocumentParams {
  query?: string | undefined;
  documentId?: unknown;
  extensions?: Record<string, unknown> | null | undefined;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Trusted documents (persisted operations): the server runs only the documents of its manifests,
 * each named by the SHA-256 of its text. The manifests are what GraphQL Code Generator's client
 * preset writes with `persistedDocuments` (`{ "[sha256:]<sha256 hex>": "<document>" }`). A request names its
 * document by `extensions.persistedQuery.sha256Hash` (the automatic persisted queries form that
 * Apollo Client and urql send) or by `documentId` (`sha256:<hex>`, the GraphQL over HTTP draft);
 * any text it sends as well is ignored, so nothing but a manifest's document ever runs.
 */
export class TrustedDocuments {
  readonly #documents: ReadonlyMap<string, string>;

  constructor(documents: ReadonlyMap<string, string>) {
    this.#documents = documents;
  }

  /** The manifests at `paths`, merged; a file that is not such a manifest stops the start. */
  static load(paths: readonly string[]): TrustedDocuments {
    const documents = new Map<string, string>();
    for (const file of paths) {
      const manifest: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
        throw new Error(`${file} is not a trusted documents manifest ({ "<sha256>": "<document>" })`);
      }
      for (const [key, document] of Object.entries(manifest)) {
        // The client preset writes `sha256:<hex>` keys with its own hashing, bare hex with a custom one.
        const hash = key.replace(/^sha256:/, '');
        if (!SHA256.test(hash) || typeof document !== 'string') {
          throw new Error(`${file}: entry ${JSON.stringify(key)} is not "[sha256:]<sha256 hex>": "<document>"`);
        }
        documents.set(hash, document);
      }
    }
    return new TrustedDocuments(documents);
  }

  get size(): number {
    return this.#documents.size;
  }

  /** The document the request names; a RequestError (PERSISTED_QUERY_NOT_FOUND) when it names none. */
  resolve(params: DocumentParams): string {
    const hash = hashOf(params);
    const document = hash ? this.#documents.get(hash) : undefined;
    if (document !== undefined) return document;
    throw requestError(
      RequestErrorCode.PERSISTED_QUERY_NOT_FOUND,
      hash
        ? 'This server runs trusted documents only, and this hash is not one of them'
        : 'This server runs trusted documents only: name one by extensions.persistedQuery.sha256Hash or documentId',
    );
  }
}

function hashOf(params: DocumentParams): string | null {
  const persisted = params.extensions?.['persistedQuery'];
  if (typeof persisted === 'object' && persisted !== null) {
    const hash = (persisted as Record<string, unknown>)['sha256Hash'];
    if (typeof hash === 'string' && SHA256.test(hash)) return hash;
  }
  if (typeof params.documentId === 'string') {
    const hash = params.documentId.replace(/^sha256:/, '');
    if (SHA256.test(hash)) return hash;
  }
  return null;
}

/** Yoga's side (HTTP and SSE): the named document replaces whatever text came with the request. */
export function useTrustedDocuments(trusted: TrustedDocuments): Plugin {
  return {
    onParams({ params, setParams }) {
      const raw = params as typeof params & { documentId?: unknown };
      let query: string;
      try {
        query = trusted.resolve(raw);
      } catch (error) {
        if (!(error instanceof RequestError)) throw error;
        throw graphQLError(error.code, error.message, { http: { status: 400 } });
      }
      const { documentId: _documentId, ...rest } = raw;
      setParams({ ...rest, query });
    },
  };
}
