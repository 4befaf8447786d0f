import type { IncomingMessage, ServerResponse } from 'node:http';
import { consolePages } from './console.ts';
import { GraphiQLAssets } from './graphiql.ts';

/** The pages jobql serves to browsers besides the API: GraphiQL's assets and the job console. */
export interface Pages {
  /** Answers the request when it is for a page or an asset; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
}

export function createPages(options: { consoleDir: string; graphiql: boolean }): Pages {
  const graphiql = options.graphiql ? new GraphiQLAssets() : null;
  const console = consolePages(options.consoleDir);
  return {
    handle: (req, res, pathname) => (graphiql?.handle(req, res, pathname) ?? false) || console(req, res, pathname),
  };
}
