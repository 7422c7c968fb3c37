import { SourceGate, SourceUnavailable } from './source-gate';

const failedIfError = (o: unknown) => o instanceof Error;

describe(SourceGate.name, () => {
  let now: number;
  const gate = (o: Partial<ConstructorParameters<typeof SourceGate>[1]> = {}) =>
    new SourceGate('tool source up', {
      concurrency: 2,
      queue: 1,
      queueWaitMs: 50,
      failureThreshold: 3,
      openMs: 1_000,
      now: () => now,
      ...o,
    });
  const fail = () => Promise.reject(new Error('down'));
  const ok = () => Promise.resolve('fine');

  beforeEach(() => (now = 1_000_000));

  it('opens after the threshold of failures in a row, refusing at once without calling', async () => {
    const sut = gate();
    for (let i = 0; i < 3; i++) await expect(sut.run(fail, failedIfError)).rejects.toThrow('down');
    const called = jest.fn(ok);

    await expect(sut.run(called, failedIfError)).rejects.toThrow(SourceUnavailable);
    await expect(sut.run(called, failedIfError)).rejects.toThrow(/paused for 1 s after 3 failures/);
    expect(called).not.toHaveBeenCalled();
    expect(sut.state).toBe('open');
  });

  it('a success in between resets the count', async () => {
    const sut = gate();
    await expect(sut.run(fail, failedIfError)).rejects.toThrow();
    await expect(sut.run(fail, failedIfError)).rejects.toThrow();
    await sut.run(ok, failedIfError);
    await expect(sut.run(fail, failedIfError)).rejects.toThrow();
    await expect(sut.run(fail, failedIfError)).rejects.toThrow();

    expect(sut.state).toBe('closed');
  });

  it('lets one trial call through after the pause: success closes, failure opens again', async () => {
    const sut = gate();
    for (let i = 0; i < 3; i++) await expect(sut.run(fail, failedIfError)).rejects.toThrow();
    now += 1_000;
    expect(sut.state).toBe('half-open');

    let release!: () => void;
    const trial = sut.run(
      () => new Promise<string>((r) => (release = () => r('ok'))),
      failedIfError,
    );
    await expect(sut.run(ok, failedIfError)).rejects.toThrow(/trial call is under way/);
    release();
    await expect(trial).resolves.toBe('ok');
    expect(sut.state).toBe('closed');

    for (let i = 0; i < 3; i++) await expect(sut.run(fail, failedIfError)).rejects.toThrow();
    now += 1_000;
    await expect(sut.run(fail, failedIfError)).rejects.toThrow('down');
    expect(sut.state).toBe('open');
  });

  it('does not count what the caller says is not the upstream failing', async () => {
    const sut = gate();
    const toolError = () => Promise.resolve({ isError: true });
    for (let i = 0; i < 10; i++) await sut.run(toolError, failedIfError);

    expect(sut.state).toBe('closed');
  });

  it('caps calls in flight; one waits in line, the next is refused as busy', async () => {
    const sut = gate({ queueWaitMs: 5_000 });
    const releases: (() => void)[] = [];
    const slow = () => new Promise<string>((r) => releases.push(() => r('done')));
    const a = sut.run(slow, failedIfError);
    const b = sut.run(slow, failedIfError);
    const c = sut.run(slow, failedIfError);
    await expect(sut.run(slow, failedIfError)).rejects.toThrow(/busy \(2 calls in flight\)/);

    await Promise.resolve();
    expect(releases).toHaveLength(2);
    releases[0]();
    await a;
    await new Promise((r) => setImmediate(r));
    expect(releases).toHaveLength(3);
    releases[1]();
    releases[2]();
    await expect(Promise.all([b, c])).resolves.toEqual(['done', 'done']);
  });

  it('gives up on a wait in line after queueWaitMs', async () => {
    const sut = gate({ concurrency: 1, queueWaitMs: 20 });
    let release!: () => void;
    const first = sut.run(
      () => new Promise<string>((r) => (release = () => r('x'))),
      failedIfError,
    );

    await expect(sut.run(ok, failedIfError)).rejects.toThrow(/busy/);
    release();
    await first;
    await expect(sut.run(ok, failedIfError)).resolves.toBe('fine');
  });
});
