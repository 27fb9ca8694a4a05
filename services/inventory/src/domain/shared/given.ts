/**
 * given(events).when(command).then(events) for pure deciders (STYLE.md §12), in tests only.
 */
export interface Decider<C, E, S> {
  readonly decide: (command: C, state: S) => E[];
  readonly evolve: (state: S, event: E) => S;
  readonly initialState: () => S;
}

export function specFor<C, E, S>(d: Decider<C, E, S>) {
  return (...given: E[]) => ({
    state: (): S => given.reduce(d.evolve, d.initialState()),
    when: (command: C) => {
      const run = (): E[] => d.decide(command, given.reduce(d.evolve, d.initialState()));
      return {
        run,
        then: (expected: E[]): E[] => {
          const actual = run();
          if (JSON.stringify(actual) !== JSON.stringify(expected)) {
            throw new Error(`expected ${JSON.stringify(expected, null, 1)}\n got ${JSON.stringify(actual, null, 1)}`);
          }
          return actual;
        },
      };
    },
  });
}
