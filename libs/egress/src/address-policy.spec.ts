import { isRefusedAddress } from './address-policy';

describe(isRefusedAddress.name, () => {
  const sut = isRefusedAddress;

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['100::1', 'discard-only'],
    ['4000::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:0:10.1.2.3', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['::10.0.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a9fe:a9fe::1', 'link-local'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b:1::1', 'local-use NAT64'],
    // Teredo: server 65.54.227.120, client 10.0.0.1 stored inverted (f5ff:fffe).
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'private'],
    ['not-an-ip', 'invalid'],
    ['127.1', 'invalid'],
  ])('refuses %s as %s', (address, range) => {
    expect(sut(address, [])).toBe(range);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.215.14',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
    // Teredo: server 65.54.227.120, client 8.8.8.8 stored inverted (f7f7:f7f7).
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
  ])('allows the global address %s', (address) => {
    expect(sut(address, [])).toBeUndefined();
  });

  it.each([
    ['127.0.0.1', ['127.0.0.0/8']],
    ['10.1.2.3', ['192.168.0.0/16', '10.1.0.0/16']],
    ['10.0.0.5', ['10.0.0.5']],
    ['::1', ['::1']],
    ['fd00::7', ['fd00::/8']],
    ['::ffff:127.0.0.1', ['127.0.0.0/8']],
    ['169.254.169.254', ['169.254.169.254/32']],
  ])('allows %s when EGRESS_ALLOW holds it (%j)', (address, allow) => {
    expect(sut(address, allow)).toBeUndefined();
  });

  it.each([
    ['127.0.0.2', ['127.0.0.1'], 'loopback'],
    ['10.2.0.1', ['10.1.0.0/16'], 'private'],
    ['::1', ['127.0.0.0/8'], 'loopback'],
    ['127.0.0.1', ['::1/128'], 'loopback'],
    ['::ffff:10.0.0.1', ['127.0.0.0/8'], 'private'],
  ])('still refuses %s outside EGRESS_ALLOW %j', (address, allow, range) => {
    expect(sut(address, allow)).toBe(range);
  });
});
