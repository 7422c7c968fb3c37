import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Address = IPv4 | IPv6;
export type AllowRange = readonly [Address, number];

const cidrs = (...list: string[]) => list.map((c) => ipaddr.parseCIDR(c));

/** Checked before ipaddr's own ranges, which file these under "reserved" or "unicast". */
const NAMED: readonly (readonly [string, ReturnType<typeof cidrs>])[] = [
  ['documentation', cidrs('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24')],
  ['documentation', cidrs('2001:db8::/32', '3fff::/20')],
  ['benchmarking', cidrs('198.18.0.0/15')],
  // RFC 8215: local-use NAT64, the embedding position is a local choice, so nothing to judge.
  ['local-use NAT64', cidrs('64:ff9b:1::/48')],
];

/** ipaddr.js range names, as a tenant admin reads them ("a ... address"). */
const RANGE_NAMES: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
  benchmarking: 'benchmarking',
  discard: 'discard-only',
  as112: 'AS112',
  as112v6: 'AS112',
  amt: 'AMT',
  deprecatedOrchid: 'ORCHID',
  orchid2: 'ORCHID',
  droneRemoteIdProtocolEntityTags: 'DRIP',
  segmentRouting: 'segment-routing',
};

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
const WELL_KNOWN_NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

export function parseAllow(allow: readonly string[]): readonly AllowRange[] {
  return allow.map((entry) => {
    if (entry.includes('/')) return ipaddr.parseCIDR(entry);
    const addr = ipaddr.parse(entry);
    return [addr, addr.kind() === 'ipv4' ? 32 : 128] as const;
  });
}

/**
 * `undefined` when the platform may connect to `address`, else the name of the range that forbids
 * it ('loopback', 'private', 'link-local', ...). Only global unicast passes, unless `allow` (CIDRs,
 * a bare address meaning one host) holds it. An IPv6 address that carries an IPv4 one (mapped,
 * compatible, 6to4, NAT64, Teredo) is judged by the IPv4 address, since that is where it leads.
 */
export function isRefusedAddress(address: string, allow: readonly string[]): string | undefined {
  return judgeAddress(address, parseAllow(allow));
}

export function judgeAddress(address: string, allow: readonly AllowRange[]): string | undefined {
  // isIP first: ipaddr.parse also takes forms such as "127.1" or "0x7f.0.0.1".
  if (!isIP(address)) return 'invalid';
  return judge(ipaddr.parse(address), allow);
}

function judge(addr: Address, allow: readonly AllowRange[]): string | undefined {
  if (allow.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))) {
    return undefined;
  }
  if (addr.kind() === 'ipv6') {
    const embedded = embeddedV4(addr as IPv6);
    if (embedded) {
      for (const v4 of embedded) {
        const refused = judge(v4, allow);
        if (refused) return refused;
      }
      return undefined;
    }
  }
  for (const [name, ranges] of NAMED) {
    if (ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))) {
      return name;
    }
  }
  const range = addr.range();
  if (range !== 'unicast') return RANGE_NAMES[range] ?? 'reserved';
  if (addr.kind() === 'ipv6' && !addr.match(GLOBAL_UNICAST_V6)) return 'reserved';
  return undefined;
}

function embeddedV4(addr: IPv6): IPv4[] | undefined {
  const p = addr.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const range = addr.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145') return [v4(p[6], p[7])];
  // Only the well-known 64:ff9b::/96; the local-use /48 falls through to NAMED.
  if (range === 'rfc6052') return addr.match(WELL_KNOWN_NAT64) ? [v4(p[6], p[7])] : undefined;
  if (range === '6to4') return [v4(p[1], p[2])];
  // Server, and client (stored inverted): both take part in the path.
  if (range === 'teredo') return [v4(p[2], p[3]), v4(p[6] ^ 0xffff, p[7] ^ 0xffff)];
  // IPv4-compatible ::a.b.c.d (deprecated); :: and ::1 keep their own names.
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7] > 1)) return [v4(p[6], p[7])];
  return undefined;
}
