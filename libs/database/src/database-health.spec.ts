import { DatabaseHealth } from './database-health';
import { isDatabaseUnavailable } from './unavailable';

const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe(DatabaseHealth.name, () => {
  let t: number;
  let logger: { warn: jest.Mock; debug: jest.Mock };
  let probeOk: boolean;
  let probe: jest.Mock;
  let sut: DatabaseHealth;

  beforeEach(() => {
    jest.useFakeTimers();
    t = 0;
    logger = { warn: jest.fn(), debug: jest.fn() };
    probeOk = false;
    probe = jest.fn(() => (probeOk ? Promise.resolve(1) : Promise.reject(new Error('down'))));
    sut = new DatabaseHealth(probe, { probeIntervalMs: 1_000, logger, now: () => t });
  });
  afterEach(() => {
    sut.onApplicationShutdown();
    jest.useRealTimers();
  });

  it('logs one line when an outage is confirmed and one when it ends, with the count', async () => {
    sut.unavailable(new Error('Query read timeout'));
    for (let i = 0; i < 99; i++) sut.unavailable(new Error('Connection terminated'));
    await settle();
    expect(probe).toHaveBeenCalledTimes(1);
    expect(sut.outage()).toBeDefined();
    expect(logger.warn.mock.calls).toEqual([['database unavailable (first: Query read timeout)']]);
    for (let i = 0; i < 3; i++) {
      t += 1_000;
      await jest.advanceTimersByTimeAsync(1_000);
      sut.unavailable(new Error('again'));
    }
    expect(probe).toHaveBeenCalledTimes(4);
    probeOk = true;
    t += 1_500;
    await jest.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(sut.outage()).toBeUndefined();
    expect(logger.warn.mock.calls[1]).toEqual([
      'database reachable again after 4.5 s; 103 requests answered 503 meanwhile',
    ]);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    // No probing while up.
    await jest.advanceTimersByTimeAsync(10_000);
    expect(probe).toHaveBeenCalledTimes(5);
  });

  it('says nothing for an error the probe does not confirm', async () => {
    probeOk = true;
    sut.unavailable(new Error('Connection terminated unexpectedly'));
    await settle();
    expect(sut.outage()).toBeUndefined();
    expect(sut.outage()).toBeUndefined();
    expect(logger.warn).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(probe).toHaveBeenCalledTimes(1);
  });

  it('counts a probe that hangs as failed', async () => {
    probe.mockImplementation(() => new Promise(() => undefined));
    sut = new DatabaseHealth(probe, { logger, probeTimeoutMs: 2_000, now: () => t });
    sut.unavailable(new Error('x'));
    expect(sut.outage()).toBeUndefined();
    await jest.advanceTimersByTimeAsync(2_000);
    expect(sut.outage()).toBeDefined();
    expect(sut.outage()).toMatchObject({ reason: 'x', refused: 1 });
  });

  it('keeps the first reason on one line', async () => {
    sut.unavailable(new Error('line one\n  line two'));
    await settle();
    expect(logger.warn).toHaveBeenCalledWith('database unavailable (first: line one line two)');
  });
});

describe(isDatabaseUnavailable.name, () => {
  it.each([
    'Query read timeout',
    'Client was closed and is not queryable',
    'Client has encountered a connection error and is not queryable',
    'Connection terminated unexpectedly',
    'timeout exceeded when trying to connect',
  ])('counts "%s"', (message) => {
    expect(isDatabaseUnavailable(new Error(message))).toBe(true);
  });

  it('does not count an ordinary query error', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(
      false,
    );
  });
});
