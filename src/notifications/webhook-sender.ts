import { createHash } from 'node:crypto';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { chooseAddress, type Resolver, systemResolver } from './address-policy.ts';
import type { HostKind } from './allowed-hosts.ts';
import { backoffDelayMs } from './backoff.ts';
import type { WebhookConfig } from './webhook-config.ts';
import { describeError, postWebhook, type WebhookResponse } from './webhook-request.ts';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature.ts';
import { checkWebhookUrl } from './webhook-url.ts';

/** The one event there is: a job reached a terminal status. */
export const WEBHOOK_EVENT = 'job.ended';
export const USER_AGENT = 'jobql-webhook/1';

/** What the store keeps of one job's delivery, handed to `onRecord` after every change. */
export interface DeliveryRecord {
  attempts: number;
  /** When the first attempt started: retries stop `retryForMs` after it. */
  firstAttemptAt: Date | null;
  /** Set when a receiver answered 2xx. */
  deliveredAt: Date | null;
  /** True once retrying stopped for good without a 2xx (time up, webhooks off, host no longer allowed). */
  gaveUp: boolean;
  /** Why the last attempt failed; null after success. Shown to the job's owner: no secret in it. */
  lastError: string | null;
}

export interface WebhookSenderDeps {
  config: WebhookConfig;
  logger: Logger;
  /**
   * Persists a record (the job store). Called after every attempt, and once more when a delivery
   * is given up without one. A failure is logged and the delivery goes on: at worst a restart
   * delivers again, which receivers dedupe by Jobql-Delivery.
   */
  onRecord: (jobId: string, record: DeliveryRecord) => Promise<void>;
  clock?: Clock;
  /** How host names become addresses; the system resolver unless a test maps names. */
  resolve?: Resolver;
  /** The jitter's randomness (Math.random). */
  random?: () => number;
}

export const EMPTY_RECORD: DeliveryRecord = { attempts: 0, firstAttemptAt: null, deliveredAt: null, gaveUp: false, lastError: null };

/**
 * The Jobql-Delivery id of a job's notification: derived from the job id, so it is the same on
 * every attempt and after a restart without being stored, and receivers can dedupe
 * (delivery is at least once).
 */
export function deliveryIdFor(jobId: string): string {
  return `dlv_${createHash('sha256').update(`jobql-delivery/1\0${WEBHOOK_EVENT}\0${jobId}`).digest('hex').slice(0, 32)}`;
}

class AttemptTimeout extends Error {}
class SenderStopped extends Error {}

/**
 * Delivers completion webhooks: POSTs a job's payload, signed, retrying with backoff until a 2xx
 * or `retryForMs` after the first attempt. One delivery per job at a time; deliveries of
 * different jobs run independently.
 */
export class WebhookSender {
  readonly #config: WebhookConfig;
  readonly #log: Logger;
  readonly #onRecord: WebhookSenderDeps['onRecord'];
  readonly #clock: Clock;
  readonly #resolve: Resolver;
  readonly #random: () => number;
  readonly #stopping = new AbortController();
  readonly #running = new Map<string, Promise<void>>();
  readonly #sleepers = new Set<() => void>();

  constructor(deps: WebhookSenderDeps) {
    this.#config = deps.config;
    this.#log = deps.logger.child({ component: 'webhooks' });
    this.#onRecord = deps.onRecord;
    this.#clock = deps.clock ?? systemClock;
    this.#resolve = deps.resolve ?? systemResolver;
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Delivers `payload` (sent as its JSON; webhook-payload.ts builds it) for job `jobId` to `url`,
   * and resolves when it was delivered or given up, or when the sender stops. `previous` is the stored record: after a
   * restart the delivery goes on from it (a delivered or given-up one is left alone). A second
   * call for a job already being delivered joins the first.
   */
  deliver(jobId: string, url: string, payload: object, previous: DeliveryRecord = EMPTY_RECORD): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    const running = this.#running.get(jobId);
    if (running) return running;
    let body: string;
    try {
      body = JSON.stringify(payload);
    } catch (error) {
      // A payload JSON cannot carry (a BigInt, a cycle) is the caller's bug: a rejection, not a throw.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const delivery = this.#run(jobId, url, body, previous).finally(() => this.#running.delete(jobId));
    this.#running.set(jobId, delivery);
    return delivery;
  }

  /**
   * Stops retrying: waits are cut short, attempts in flight aborted (and not recorded: a restart
   * makes them again). Resolves when every delivery has returned, its last record written, so
   * call it before closing the store.
   */
  async stop(): Promise<void> {
    this.#stopping.abort(new SenderStopped('the webhook sender stopped'));
    for (const wake of this.#sleepers) wake();
    await Promise.allSettled([...this.#running.values()]);
  }

  async #run(jobId: string, url: string, body: string, previous: DeliveryRecord): Promise<void> {
    const deliveryId = deliveryIdFor(jobId);
    let record: DeliveryRecord = { ...previous };
    if (record.deliveredAt || record.gaveUp) return;
    // The host only: a receiver's path or query may carry its own token.
    const log = this.#log.child({ jobId, deliveryId, host: URL.parse(url)?.host ?? null });
    for (;;) {
      if (this.#stopping.signal.aborted) return;
      const check = checkWebhookUrl(url, this.#config);
      const started = this.#clock.now();
      const expired =
        record.firstAttemptAt !== null && started.getTime() - record.firstAttemptAt.getTime() >= this.#config.retryForMs;
      if (!check.ok || expired) {
        // Decided without an attempt: webhooks were switched off or the host taken off the list,
        // or a restart came after the deadline.
        const lastError = check.ok ? record.lastError : `not sent: ${check.reason}`;
        record = { ...record, gaveUp: true, lastError };
        log.warn({ attempts: record.attempts, lastError }, 'webhook given up');
        await this.#save(jobId, record, log);
        return;
      }
      const firstAt = record.firstAttemptAt ?? started;
      record = { ...record, firstAttemptAt: firstAt };
      const response = await this.#attempt(check.url, check.kind, deliveryId, body);
      if (response === null) return; // stopped mid-attempt: not counted
      const now = this.#clock.now();
      const attempts = record.attempts + 1;
      if (response.delivered) {
        record = { ...record, attempts, deliveredAt: now, lastError: null };
        log.info({ attempts, status: response.status }, 'webhook delivered');
        await this.#save(jobId, record, log);
        return;
      }
      const waitMs = backoffDelayMs(attempts, this.#config.initialBackoffMs, this.#config.maxBackoffMs, this.#random);
      const timeUp = now.getTime() + waitMs - firstAt.getTime() >= this.#config.retryForMs;
      record = { ...record, attempts, lastError: response.error, gaveUp: timeUp };
      if (timeUp) log.warn({ attempts, lastError: response.error }, 'webhook given up: no 2xx within the retry period');
      else log.debug({ attempts, lastError: response.error, retryInMs: waitMs }, 'webhook attempt failed');
      await this.#save(jobId, record, log);
      if (timeUp) return;
      await this.#sleep(waitMs);
    }
  }

  /** One attempt within attemptTimeoutMs, address choice included; null if the sender stopped during it. */
  async #attempt(url: URL, kind: HostKind, deliveryId: string, body: string): Promise<WebhookResponse | null> {
    const timeoutMs = this.#config.attemptTimeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new AttemptTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const signal = AbortSignal.any([timeout.signal, this.#stopping.signal]);
    try {
      const choice = await untilAborted(chooseAddress(url, kind, this.#config.allowPrivateNetworks, this.#resolve), signal);
      if (!choice.ok) return { delivered: false, status: null, error: choice.reason };
      const secrets = [this.#config.secret, this.#config.previousSecret].filter((s): s is string => s !== null);
      const signature = signWebhook(secrets, Math.floor(this.#clock.now().getTime() / 1000), body);
      const headers = {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'jobql-event': WEBHOOK_EVENT,
        'jobql-delivery': deliveryId,
        [SIGNATURE_HEADER.toLowerCase()]: signature,
      };
      const response = await postWebhook({ url, address: choice.address, family: choice.family, headers, body, signal });
      return this.#stopping.signal.aborted && !response.delivered ? null : response;
    } catch (error) {
      if (this.#stopping.signal.aborted) return null;
      return { delivered: false, status: null, error: error instanceof Error ? describeError(error) : 'the attempt failed' };
    } finally {
      clearTimeout(timer);
    }
  }

  async #save(jobId: string, record: DeliveryRecord, log: Logger): Promise<void> {
    try {
      await this.#onRecord(jobId, record);
    } catch (error) {
      log.error({ err: error, attempts: record.attempts }, 'could not record the webhook delivery');
    }
  }

  /** Waits `ms`, or less if the sender stops. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }
}

/** `promise`, or a rejection with the signal's reason once it aborts (the DNS lookup cannot be cancelled). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
