import { context, propagation } from '@opentelemetry/api';

/** The W3C context of the appending code travels in the event's metadata for the relay to re-inject. */
export function traceMetadata(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
