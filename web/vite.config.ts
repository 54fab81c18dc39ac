import { defineConfig } from 'vite';

// The console is served by the jianghai binary (crates/server/src/console.rs embeds dist/).
// `npm run dev` proxies the API to a running `jianghai demo` (JIANGHAI_API, default 127.0.0.1:8080).
export default defineConfig({
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, manifest: true, chunkSizeWarningLimit: 1200 },
  server: { proxy: { '/api': process.env.JIANGHAI_API ?? 'http://127.0.0.1:8080' } },
  test: { include: ['src/**/*.test.ts'] },
} as never);
