/**
 * The EventBus contract on Redis pub/sub: each test gets buses on a channel prefix of its own, each
 * bus with its own publish and subscribe connections as openSharedState gives an instance, and a
 * peer bus stands for a second instance. Needs Redis (JOBQL_TEST_REDIS_URL, default
 * redis://127.0.0.1:6379); fails, never skips, without it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { EventBus } from '../../src/events/event-bus.ts';
import { RedisEventBus } from '../../src/events/redis-event-bus.ts';
import { eventBusContract } from '../events/event-bus-contract.ts';
import { requireRedis } from '../helpers/cluster.ts';

eventBusContract('RedisEventBus', async () => {
  const url = await requireRedis();
  const channelPrefix = `jobql-test-bus-${randomBytes(4).toString('hex')}:`;
  const clients: Redis[] = [];
  /** A bus as openSharedState makes one, with connections of its own. */
  const openBus = (): RedisEventBus => {
    const connect = (role: string): Redis => {
      const client = new Redis(url, { connectionName: `jobql-test-${role}`, maxRetriesPerRequest: 3 });
      clients.push(client);
      return client;
    };
    return new RedisEventBus({ publisher: connect('publish'), subscriber: connect('subscribe'), channelPrefix });
  };
  const bus = openBus();
  // The bus under test is connected first, as openSharedState waits for it.
  await Promise.all(clients.map((client) => client.ping()));
  return {
    bus,
    // Connected before use, as openSharedState does for an instance. (Subscribing on a connection
    // still being made once lost the events of a test in a full scale run: see issue 18's work on
    // reconnects, where that case belongs.)
    openPeer: async (): Promise<EventBus> => {
      const peer = openBus();
      await Promise.all(clients.slice(-2).map((client) => client.ping()));
      return peer;
    },
    async close(): Promise<void> {
      await Promise.allSettled(clients.map((client) => client.quit()));
    },
  };
});
