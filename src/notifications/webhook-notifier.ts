import { RequestErrorCode, requestError } from '../core/errors.ts';
import type { Job, JobNotification } from '../core/job.ts';
import type { JobNotifier } from '../core/job-notifier.ts';
import type { Logger } from '../core/logger.ts';
import type { WebhookConfig } from './webhook-config.ts';
import { jobEndedPayload } from './webhook-payload.ts';
import { WebhookSender } from './webhook-sender.ts';
import { checkWebhookUrl } from './webhook-url.ts';

/**
 * The completion webhook as the job service's JobNotifier: the URL checked at submit, the job's
 * end POSTed (with `links`, the result's signed download paths, on a SUCCESS) by a WebhookSender.
 */
export class WebhookNotifier implements JobNotifier {
  readonly #config: WebhookConfig;
  readonly #sender: WebhookSender;
  readonly #log: Logger;
  readonly #links: (job: Job) => object | null;
  /** Where each delivery in flight writes its record. */
  readonly #records = new Map<string, { url: string; write: (notification: JobNotification) => Promise<void> }>();

  constructor(deps: { config: WebhookConfig; logger: Logger; links: (job: Job) => object | null }) {
    this.#config = deps.config;
    this.#log = deps.logger;
    this.#links = deps.links;
    this.#sender = new WebhookSender({
      config: deps.config,
      logger: deps.logger,
      onRecord: async (jobId, record) => {
        const target = this.#records.get(jobId);
        if (target) await target.write({ url: target.url, ...record });
      },
    });
  }

  checkUrl(url: string): string {
    const check = checkWebhookUrl(url, this.#config);
    if (!check.ok) throw requestError(RequestErrorCode.BAD_USER_INPUT, `notify.url: ${check.reason}`, { argument: 'input.notify.url' });
    return check.url.href;
  }

  deliver(job: Job, record: (notification: JobNotification) => Promise<void>): void {
    const notification = job.notification;
    if (!notification || notification.deliveredAt || notification.gaveUp) return;
    const payload = { ...jobEndedPayload(job), downloads: job.status === 'SUCCESS' ? this.#links(job) : null };
    this.#records.set(job.id, { url: notification.url, write: record });
    this.#sender
      .deliver(job.id, notification.url, payload, notification)
      .catch((error: unknown) => this.#log.error({ err: error, jobId: job.id }, 'webhook delivery failed'))
      .finally(() => this.#records.delete(job.id));
  }

  stop(): Promise<void> {
    return this.#sender.stop();
  }
}
