import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built into dist/console and served by the platform at /console (libs/console). Everything the page
// loads comes from that origin: no CDN, no inline script (the CSP forbids both).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
