import { redactDatabaseUrl } from './redact-url';

describe(redactDatabaseUrl.name, () => {
  it('drops the password and query string', () => {
    expect(redactDatabaseUrl('postgres://app:s3cr3t@db.internal:5432/platform?sslpassword=x')).toBe(
      'postgres://app@db.internal:5432/platform',
    );
  });
  it('keeps URLs without credentials readable', () => {
    expect(redactDatabaseUrl('postgresql://localhost/db')).toBe('postgresql://localhost/db');
  });
  it('never returns an unparseable input verbatim', () => {
    expect(redactDatabaseUrl('not a url with password')).toBe('(unparseable URL)');
  });
});
