/** The EventBus contract on the bus of one process: a fresh bus per test, no peers (nothing to share with). */
import { InProcessEventBus } from '../../src/events/in-process-event-bus.ts';
import { eventBusContract } from './event-bus-contract.ts';

eventBusContract('InProcessEventBus', async () => ({
  bus: new InProcessEventBus(),
  openPeer: null,
  close: async () => {},
}));
