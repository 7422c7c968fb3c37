import type { BusMessage, ChangeBus } from './change-bus';
import { ChangeFeed, type TenancyChange } from './change-feed';

/** Records what would go to other replicas and lets the test play what comes back. */
class RecordingBus implements ChangeBus {
  readonly sent: BusMessage[] = [];
  receive?: (m: BusMessage) => void;
  gap?: () => void;

  publish(message: BusMessage): Promise<void> {
    this.sent.push(message);
    return Promise.resolve();
  }

  start(onMessage: (m: BusMessage) => void, onGap: () => void): Promise<void> {
    this.receive = onMessage;
    this.gap = onGap;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

describe('ChangeFeed topics', () => {
  async function feed() {
    const bus = new RecordingBus();
    const sut = new ChangeFeed(bus);
    await sut.onModuleInit();
    return { bus, sut };
  }

  it('delivers a topic only to its own listeners, here and through the bus', async () => {
    const { bus, sut } = await feed();
    const tenancy: TenancyChange[] = [];
    const sessions: unknown[] = [];
    sut.subscribe((c) => tenancy.push(c));
    sut.topic<{ sessionId: string }>('mcp-sessions').subscribe((m) => sessions.push(m));

    sut.topic('mcp-sessions').publish({ sessionId: 's1' });
    sut.publish({ kind: 'grants', tenantId: 't1' });
    bus.receive!({ topic: 'mcp-sessions', body: { sessionId: 's2' } });

    expect(sessions).toEqual([{ sessionId: 's1' }, { sessionId: 's2' }]);
    expect(tenancy).toEqual([{ kind: 'grants', tenantId: 't1' }]);
    expect(bus.sent).toEqual([
      { topic: 'mcp-sessions', body: { sessionId: 's1' } },
      { topic: 'tenancy', body: { kind: 'grants', tenantId: 't1' } },
    ]);
  });

  it('tells tenancy listeners to forget everything after a gap, and no one else', async () => {
    const { bus, sut } = await feed();
    const tenancy: TenancyChange[] = [];
    const other: unknown[] = [];
    sut.subscribe((c) => tenancy.push(c));
    sut.topic('jwks-forget').subscribe((m) => other.push(m));

    bus.gap!();

    expect(tenancy).toEqual([{ kind: 'all' }]);
    expect(other).toEqual([]);
  });

  it('keeps delivering when one listener throws, and stops after unsubscribe', async () => {
    const { sut } = await feed();
    const seen: string[] = [];
    sut.subscribe(() => {
      throw new Error('boom');
    });
    const off = sut.subscribe((c) => seen.push(c.kind));
    sut.publish({ kind: 'all' });
    off();
    sut.publish({ kind: 'all' });
    expect(seen).toEqual(['all']);
  });
});
