import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { pollUntil } from './support/http';
import { tenantWithIdp } from './support/hostile';
import { TestIdp } from './support/idp';
import { bearer, initializeRequest, rawInitialize, rawPost, toolsCall } from './support/mcp';
import { RunningPlatform, startPlatform } from './support/platform';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const requestId = (what: string) => `${what}-${randomBytes(6).toString('hex')}`;

/**
 * A refused credential on a known tenant is written to the audit log, with the refusal's message.
 * Part of that message can come from the caller (a JWT header's `alg` or `kid`); whatever it is, it
 * must not stop the audit log from being written. Every case runs on its own platform, so one
 * stuck audit queue cannot spill into the next case.
 */
describe('audit log under hostile credentials', () => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await TestIdp.start();
  });
  afterAll(async () => {
    await idp.stop();
  });

  async function scenario(
    run: (ctx: {
      p: RunningPlatform;
      withIdp: { slug: string; aud: string };
      plain: { slug: string };
      audited: (id: string, ms?: number) => Promise<boolean>;
      /** An ordinary refusal on the plain tenant, afterwards, reaches the audit log. */
      expectLaterRefusalAudited: () => Promise<void>;
    }) => Promise<void>,
  ): Promise<void> {
    const p = await startPlatform();
    try {
      const withIdp = await tenantWithIdp(p, idp, {}, 'audit');
      const plain = await p.admin.createTenant('audit-plain');
      const db = p.app.get(DataSource);
      const audited = (id: string, ms = 8000) =>
        pollUntil(ms, `the audit event of ${id}`, async () => {
          const rows = await db.query<unknown[]>(
            'SELECT 1 FROM audit_events WHERE request_id = $1',
            [id],
          );
          return rows.length ? true : undefined;
        }).catch(() => false);
      const expectLaterRefusalAudited = async () => {
        const laterId = requestId('later');
        await refuseOrdinary(p, plain.slug, laterId);
        expect({ laterRefusalAudited: await audited(laterId) }).toEqual({
          laterRefusalAudited: true,
        });
      };
      await run({ p, withIdp, plain, audited, expectLaterRefusalAudited });
    } finally {
      await p.close();
    }
  }

  const refuseOrdinary = async (p: RunningPlatform, slug: string, id: string) => {
    const res = await rawPost(p, slug, initializeRequest(), {
      Authorization: 'Bearer not-a-real-token',
      'X-Request-Id': id,
    });
    expect(res.status).toBe(401);
  };

  it('records an ordinary refusal (the baseline the other cases rely on)', async () => {
    await scenario(async ({ p, plain, audited }) => {
      const id = requestId('baseline');
      await refuseOrdinary(p, plain.slug, id);
      expect(await audited(id)).toBe(true);
    });
  }, 30_000);

  it.each([
    ['a NUL in alg', { alg: 'RS\u0000256', typ: 'JWT' }],
    ['a NUL in kid', { alg: 'RS256', typ: 'JWT', kid: 'key\u0000' }],
    ['an unpaired surrogate in alg', { alg: 'RS256\ud800', typ: 'JWT' }],
    ['an unpaired surrogate in kid', { alg: 'RS256', typ: 'JWT', kid: '\udfffkey' }],
  ])(
    'a JWT with %s is refused with 401, and refusals after it still reach the audit log',
    async (_what, header) => {
      await scenario(async ({ p, withIdp, audited, expectLaterRefusalAudited }) => {
        const hostileId = requestId('hostile');
        const token = `${b64(header)}.${b64({ sub: 'x', iss: idp.issuer, aud: withIdp.aud })}.${randomBytes(64).toString('base64url')}`;
        const hostile = await rawPost(p, withIdp.slug, initializeRequest(), {
          Authorization: `Bearer ${token}`,
          'X-Request-Id': hostileId,
        });
        expect(hostile.status).toBe(401);
        // An ordinary refusal on another tenant, afterwards.
        await expectLaterRefusalAudited();
        // The hostile refusal is on a known tenant too, so it is audited as well.
        expect({ hostileRefusalAudited: await audited(hostileId, 2000) }).toEqual({
          hostileRefusalAudited: true,
        });
      });
    },
    30_000,
  );

  it.each([
    ['a NUL', 'echo\u0000'],
    ['an unpaired surrogate', 'echo\ud800'],
    ['5 000 characters', 'e'.repeat(5000)],
  ])(
    'a tools/call whose tool name has %s is answered, and audit events after it are still written',
    async (_what, name) => {
      await scenario(async ({ p, plain, expectLaterRefusalAudited }) => {
        const key = await p.admin.createKey(plain.slug);
        const s = await rawInitialize(p, plain.slug, bearer(key.secret));
        const hostileId = requestId('tool');
        const res = await rawPost(p, plain.slug, toolsCall(name, { text: 'x' }), {
          ...s.headers,
          'X-Request-Id': hostileId,
        });
        expect(res.status).toBeLessThan(500);
        await expectLaterRefusalAudited();
      });
    },
    30_000,
  );
});
