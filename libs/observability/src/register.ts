/**
 * Side-effect entry: `import '@berth/observability/register'` as the FIRST import of a service's
 * main.ts (or `tsx --import @berth/observability/register`) starts tracing before pg, grpc-js and
 * http are loaded, so their instrumentation hooks. Service name from OTEL_SERVICE_NAME, else the
 * `services/<name>/` folder of the script being run, else the npm package name.
 */
import { register } from 'node:module';
import { resolveExporterKind, startObservability } from './sdk.ts';

// ESM imports of CJS libraries (pg, @grpc/grpc-js) are only visible to instrumentation through
// import-in-the-middle's loader hook, when they are imported first. That hook costs about a CPU
// second of every start (each ESM import then goes through a hooks thread and is re-wrapped; 1.0 s
// more for ten of the services' libraries on these machines). With `none` (no exporter) the
// instrumented libraries are grpc-js and http only: startObservability requires them at once,
// which patches the objects the service's imports get, and the hook is left out.
const exporter = resolveExporterKind(process.env);
if (exporter !== 'none') register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const fromScript = /[\\/]services[\\/]([^\\/]+)[\\/]/.exec(process.argv[1] ?? '')?.[1];
startObservability({
  serviceName: process.env['OTEL_SERVICE_NAME'] ?? fromScript ?? process.env['npm_package_name'] ?? 'berth',
  exporter,
  loadPatchedNow: exporter === 'none',
});
