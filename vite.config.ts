import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';
import { DEFAULT_PACK_NAME } from './src/ui/config.ts';

// Cross-origin isolation lets onnxruntime-web use SharedArrayBuffer (wasm threads).
// Needed on the dev server (npm start) and the preview server (e2e tests) alike.
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The ORT jsep wasm is ~25 MB and model packs are bigger than workbox's 2 MiB default;
// everything the app needs offline must fit under this.
const PRECACHE_MAX_BYTES = 256 * 1024 * 1024;

export default defineConfig({
  base: './',
  plugins: [
    react(),
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: false,
      manifest: {
        name: 'DreamCache Studio',
        short_name: 'DreamCache',
        description:
          'Personalized text-to-image in your browser: drop a photo of a subject, then put it in any scene.',
        theme_color: '#14161c',
        background_color: '#14161c',
        display: 'standalone',
        start_url: '.',
        scope: '.',
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: 'icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        // The app shell, the ORT wasm, and the embedded default pack; other packs under
        // public/models/ stay network-only (a full SD 1.5 pack is gigabytes).
        globPatterns: [
          '*.{html,png,svg,ico}',
          'assets/**/*.{js,mjs,css,wasm,png,svg}',
          'icons/*.{png,svg}',
          `models/${DEFAULT_PACK_NAME}/*`,
        ],
        maximumFileSizeToCacheInBytes: PRECACHE_MAX_BYTES,
        navigateFallback: 'index.html',
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
