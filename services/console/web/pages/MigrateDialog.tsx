import { useState } from 'react';
import * as Dialog from '@radix-ui/react-dialog';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Vm } from '@berth/proto/berth/inventory/v1/vm.ts';
import { commandMeta, rpc } from '../client.ts';
import { useRpc } from '../hooks.ts';

/** Ranked destinations from the scheduler (through migration), each excluded group's reason, then MigrateVm. */
export function MigrateDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const queryClient = useQueryClient();
  const dests = useRpc('migration', 'listMigrationDestinations', { vmId: vm.vmId, limit: 10 });
  const [chosen, setChosen] = useState('');
  const go = useMutation({
    mutationFn: () =>
      rpc('migration', 'migrateVm', { meta: commandMeta('migrate'), vmId: vm.vmId, destinationHostId: chosen, reason: 'from the console' }),
    onSuccess: onClose,
    onSettled: () => void queryClient.invalidateQueries(),
  });
  const d = dests.data;
  return (
    <Dialog.Root open onOpenChange={(open) => (open ? undefined : onClose())}>
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog" aria-describedby="migrate-desc">
          <Dialog.Title>Migrate {vm.spec?.name || vm.vmId}</Dialog.Title>
          <p id="migrate-desc">{d?.summary ?? 'Asking the scheduler for destinations…'}</p>
          {d?.warning ? <p className="warning">Warning: {d.warning}</p> : null}
          {dests.error ? <p className="error">{dests.error.message}</p> : null}
          <fieldset>
            <legend>Destination</legend>
            <label>
              <input type="radio" name="dest" value="" checked={chosen === ''} onChange={() => setChosen('')} /> Best (let the scheduler
              choose)
            </label>
            {(d?.destinations ?? []).map((x) => (
              <div key={x.hostId}>
                <label>
                  <input type="radio" name="dest" value={x.hostId} checked={chosen === x.hostId} onChange={() => setChosen(x.hostId)} /> #
                  {x.rank} {x.hostName || x.hostId} (score {+x.score.toFixed(3)})
                </label>
              </div>
            ))}
          </fieldset>
          {(d?.missing ?? []).length > 0 ? (
            <>
              <h3>Excluded hosts</h3>
              <ul data-testid="excluded">
                {d!.missing.map((m, i) => (
                  <li key={i}>{m.summary || `${m.hosts} hosts: ${m.reason} ${m.subject}`}</li>
                ))}
              </ul>
            </>
          ) : null}
          {go.error ? <p className="error">{go.error.message}</p> : null}
          <button type="button" className="primary" onClick={() => go.mutate()}>
            Migrate
          </button>{' '}
          <Dialog.Close asChild>
            <button type="button">Cancel</button>
          </Dialog.Close>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
