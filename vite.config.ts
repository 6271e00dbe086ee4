/**
 * Builds the SMART app into dist/smart-app (two pages: launch.html and index.html), served by the
 * service under /smart. Relative base so the same build works behind any path prefix; no CDN.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('src/smart-app'),
  base: './',
  publicDir: false,
  // fhirclient's "pure" build: modern browsers, no fetch/AbortController polyfills bundled.
  define: { FHIRCLIENT_PURE: 'true' },
  build: {
    outDir: here('dist/smart-app'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: { index: here('src/smart-app/index.html'), launch: here('src/smart-app/launch.html') },
      // isomorphic-webcrypto (via fhirclient) guards its `module` use with typeof; nothing to fix.
      onwarn(warning, warn) {
        if (warning.code === 'COMMONJS_VARIABLE_IN_ESM' && warning.id?.includes('isomorphic-webcrypto')) return;
        warn(warning);
      },
    },
  },
});
