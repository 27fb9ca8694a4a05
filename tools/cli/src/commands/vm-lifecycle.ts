import { inventoryV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { vmStatusLabel } from '../render/labels.ts';
import { duration, oneOf } from '../values.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec } from './types.ts';
import { WAIT_UNTIL, waitForVm } from './watch.ts';

const done = (vmId: string, vm: inventoryV1.Vm | undefined) => ({
  json: vm ? inventoryV1.Vm.toJSON(vm) : null,
  text: `vm ${vmId} ${vm ? vmStatusLabel(vm.status) : ''}`.trimEnd(),
});

/** Power operations (the executor carries them out) and following a VM's lifecycle. */
export const vmLifecycleCommands: readonly CommandSpec[] = [
  {
    words: ['vms', 'start'],
    args: ['VM'],
    summary: 'start a stopped VM',
    options: { ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const res = await unary(
        ctx.backends.inventory(),
        'startVm',
        { meta: commandMeta(input, ctx), vmId: input.arg('VM') },
        ctx.timeoutMillis,
      );
      return done(input.arg('VM'), res.vm);
    },
  },
  {
    words: ['vms', 'stop'],
    args: ['VM'],
    summary: 'stop a VM (guest shutdown, or --force to power off)',
    options: { force: { type: 'boolean', help: 'power off instead of a guest shutdown' }, ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const request = { meta: commandMeta(input, ctx), vmId: input.arg('VM'), force: input.flag('force') };
      const res = await unary(ctx.backends.inventory(), 'stopVm', request, ctx.timeoutMillis);
      return done(input.arg('VM'), res.vm);
    },
  },
  {
    words: ['vms', 'reboot'],
    args: ['VM'],
    summary: 'reboot a running VM',
    options: { ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const res = await unary(
        ctx.backends.inventory(),
        'rebootVm',
        { meta: commandMeta(input, ctx), vmId: input.arg('VM') },
        ctx.timeoutMillis,
      );
      return done(input.arg('VM'), res.vm);
    },
  },
  {
    words: ['vms', 'watch'],
    args: ['VM'],
    summary: "print a VM's lifecycle events from now until it runs (or --until placed) or fails",
    options: {
      until: { type: 'string', value: 'STATUS', help: 'placed or running (default running)' },
      'wait-timeout': { type: 'string', value: 'DURATION', help: 'how long to follow (default 5m)' },
    },
    async run(input, ctx) {
      const until = WAIT_UNTIL[oneOf(input.string('until') ?? 'running', '--until', ['placed', 'running'])];
      const wait = duration(input.string('wait-timeout') ?? '5m', '--wait-timeout');
      const current = await unary(ctx.backends.inventory(), 'getVm', { vmId: input.arg('VM') }, ctx.timeoutMillis);
      if (!current.vm) return done(input.arg('VM'), undefined);
      return done(input.arg('VM'), await waitForVm(ctx, current.vm, until, wait));
    },
  },
];
