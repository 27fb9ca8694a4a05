import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

// The UI is plain React compiled by Vite's esbuild (no Babel plugin needed). `@berth/proto` reaches the
// generated message modules of @berth/contracts (their enums and types) without the package's Node-only
// index (gRPC clients, zod event schemas).
export default defineConfig(({ command }) => ({
  root: here('./web'),
  // React's production build whatever NODE_ENV the building process has: the tests build the assets
  // inside vitest (NODE_ENV=test), and Vite would bundle React's development build there (718 KB).
  ...(command === 'build' ? { define: { 'process.env.NODE_ENV': JSON.stringify('production') } } : {}),
  base: '/',
  esbuild: { jsx: 'automatic' },
  resolve: { alias: { '@berth/proto': here('../../libs/contracts/src/gen') } },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1000,
    rollupOptions: {
      // React Server Components' "use client" markers mean nothing in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  logLevel: 'warn',
}));
