import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectReaderPermissions, servicePermissions } from './auth.ts';
import { readNkey, writeNatsCredentials } from './auth-files.ts';

describe('per-project readers', () => {
  it("allow exactly the project's subjects and consumers filtered on them", () => {
    const p = projectReaderPermissions('acme', '_INBOX_UKEY', { mode: 'strict' });
    expect(p.subscribe.allow).toEqual(['_INBOX_UKEY.>', 'berth.inventory.vm.acme.*', 'berth.inventory.project.acme.*']);
    expect(p.publish.allow).toEqual([
      '$JS.API.INFO',
      '$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.*.berth.inventory.vm.acme.>',
      '$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.*.berth.inventory.project.acme.>',
    ]);
    expect(p.allow_responses).toBeUndefined();
    // prefixed (tests): any prefix token, any prefixed stream
    expect(projectReaderPermissions('acme', '_INBOX_UKEY', { mode: 'prefixed' }).subscribe.allow).toContain('*.berth.inventory.vm.acme.*');
  });

  it('refuse a name that is not a project (a wildcard or a dot would widen the permission), naming the field', () => {
    for (const bad of ['*', '>', 'a.b', 'Acme', '', '-a']) {
      let thrown: unknown;
      try {
        projectReaderPermissions(bad, '_INBOX_UKEY', { mode: 'strict' });
      } catch (e) {
        thrown = e;
      }
      expect(thrown, bad).toMatchObject({ name: 'ValidationError', violations: [{ field: 'project' }] });
    }
  });

  it('are written as users reader-<project>, kept on later runs with the same keys', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'berth-nats-creds-')), 'nats');
    try {
      const first = writeNatsCredentials(dir, { mode: 'strict', projectReaders: ['acme'] });
      expect(first.users).toContain('reader-acme');
      const key = readNkey(first.credsFile('reader-acme')).publicKey;
      const again = writeNatsCredentials(dir, { mode: 'strict', projectReaders: ['globex'] });
      expect(again.users).toEqual(expect.arrayContaining(['reader-acme', 'reader-globex']));
      expect(readNkey(again.credsFile('reader-acme')).publicKey).toBe(key);
      const conf = readFileSync(again.authConf, 'utf8');
      expect(conf).toContain(key);
      expect(conf).toContain('berth.inventory.vm.globex.*');
      expect(() => writeNatsCredentials(dir, { mode: 'strict', projectReaders: ['a.b'] })).toThrow(/projectReaders/);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});

describe('service users', () => {
  it('may look streams up but never create, update, delete or purge one', () => {
    for (const mode of ['strict', 'prefixed'] as const) {
      const allow = servicePermissions('inventory', '_INBOX_UKEY', { mode }).publish.allow;
      expect(allow.some((s) => s.startsWith('$JS.API.STREAM.INFO.'))).toBe(true);
      expect(allow.filter((s) => /^\$JS\.API\.STREAM\.(CREATE|UPDATE|DELETE|PURGE)\b/.test(s))).toEqual([]);
    }
  });

  it("may read its own event stream's messages by sequence (a relay reading back its newest ids), no other stream's", () => {
    const get = (name: string) =>
      servicePermissions(name, '_INBOX_UKEY', { mode: 'strict' }).publish.allow.filter((s) => s.startsWith('$JS.API.STREAM.MSG.GET.'));
    expect(get('inventory')).toEqual([
      '$JS.API.STREAM.MSG.GET.BERTH_INVENTORY',
      '$JS.API.STREAM.MSG.GET.KV_berth-host-snapshots',
      '$JS.API.STREAM.MSG.GET.KV_berth-hardware-config',
      '$JS.API.STREAM.MSG.GET.KV_berth-view-position', // its own bucket since the view position moved out of the snapshots
    ]);
    expect(get('placement-executor')).toEqual(['$JS.API.STREAM.MSG.GET.BERTH_EXECUTOR']);
    expect(get('telemetry').filter((s) => !s.includes('.KV_'))).toEqual(['$JS.API.STREAM.MSG.GET.BERTH_TELEMETRY']);
  });
});
