/**
 * Secrets never reach logs, errors or traces (docs/security.md). These helpers mask the password of a
 * URL (`postgres://berth_inventory:s3cret@db/berth_inventory` -> `postgres://berth_inventory:***@db/...`)
 * and every such URL inside a text (an error message from a driver, a banner line).
 */

export const MASK = '***';

/** The URL with its password (if any) replaced by `***`; a string that is no URL is returned as it is. */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return maskUrlsIn(url);
  }
  if (u.password === '') return url;
  u.password = MASK;
  return u.toString();
}

// scheme://user:password@  (the password ends at the last '@' before the host part).
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)([^\s/]*)@/gi;

/** Every `scheme://user:password@` in `text` with the password masked. */
export const maskUrlsIn = (text: string): string => text.replace(USERINFO, (_m, head: string) => `${head}${MASK}@`);
