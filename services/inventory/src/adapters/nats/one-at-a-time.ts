/**
 * Runs the works given to it one after another, each after the previous one settled (a failure
 * does not stop the next): the snapshot writers' order, so a later put never lands before an
 * earlier one of the same host.
 */
export function oneAtATime(): <T>(work: () => Promise<T>) => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = chain.then(work);
    chain = run.catch(() => undefined);
    return run;
  };
}
