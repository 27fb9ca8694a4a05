// Types of service-build.mjs (plain JavaScript: prestart runs it before anything is compiled).
export declare const BUILD_DIR: string;
export declare function serviceEntries(root: string): Record<string, string>;
export declare function buildServices(root: string): Promise<{ millis: number; entries: string[] }>;
export declare function buildStaleness(root: string): string | undefined;
export declare function builtServiceEntry(root: string, name: string): string | undefined;
export declare function serviceCommand(
  root: string,
  name: string,
  nodeArgs?: readonly string[],
): { command: string; args: string[]; built: boolean };
