import { HypervisorError } from '../errors.ts';
import type { Deadline, LxdClient } from './client.ts';
import { lxdVolumeName, type LxdVolumeRequest } from './instance.ts';

/** A VM's data disks as LXD custom volumes (`<instance>-disk<i>`): created one by one, deleted by name. */

const ALREADY_EXISTS = /already exists/i;

/** Creates one custom volume; one that already exists (an earlier attempt) is left as it is. */
export async function createCustomVolume(client: LxdClient, v: LxdVolumeRequest, deadline: Deadline): Promise<void> {
  const path = `/1.0/storage-pools/${encodeURIComponent(v.pool)}/volumes/custom`;
  try {
    await client.call(
      'POST',
      path,
      deadline,
      {
        name: v.name,
        type: 'custom',
        content_type: v.contentType,
        config: { size: `${v.sizeBytes}B` },
      },
      `create volume ${v.pool}/${v.name}`,
    );
  } catch (e) {
    if (e instanceof HypervisorError && ALREADY_EXISTS.test(e.message)) return;
    throw e;
  }
}

/**
 * Custom volumes named after the VM's data disks in every pool. Found by name rather than through
 * the instance's devices, so an undefine interrupted after the instance went still cleans them up.
 */
export async function deleteCustomVolumes(client: LxdClient, vmId: string, deadline: Deadline): Promise<void> {
  const prefix = lxdVolumeName(vmId, 0).slice(0, -1);
  const ours = (v: string): boolean => v.startsWith(prefix) && /^\d+$/.test(v.slice(prefix.length));
  const pools = await client.get<string[]>('/1.0/storage-pools', deadline);
  for (const poolUrl of pools) {
    const pool = decodeURIComponent(poolUrl.split('/').pop() ?? '');
    const vols = await client.get<string[]>(`/1.0/storage-pools/${encodeURIComponent(pool)}/volumes/custom`, deadline);
    for (const volUrl of vols) {
      const vol = decodeURIComponent((volUrl.split('/').pop() ?? '').split('?')[0] ?? '');
      if (!ours(vol)) continue;
      try {
        await client.call(
          'DELETE',
          `/1.0/storage-pools/${encodeURIComponent(pool)}/volumes/custom/${encodeURIComponent(vol)}`,
          deadline,
          undefined,
          `delete volume ${pool}/${vol}`,
        );
      } catch (e) {
        if (!(e instanceof HypervisorError && e.kind === 'not-found')) throw e;
      }
    }
  }
}
