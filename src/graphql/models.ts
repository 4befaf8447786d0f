import type { ResultPage } from '../core/results.ts';

/** A result page as the resolvers carry it: with the job it belongs to, for its id. */
export interface JobResultPage extends ResultPage {
  jobId: string;
}

export function jobResultPage(jobId: string, page: ResultPage): JobResultPage {
  return { ...page, jobId };
}
