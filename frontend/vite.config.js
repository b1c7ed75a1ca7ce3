import { defineConfig } from "vite";

// The dashboard is served by the API at / (and by nginx in docker-compose, /api proxied).
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 600 },
  server: { proxy: { "/api": "http://127.0.0.1:18000" } },
  test: { environment: "node", include: ["src/**/*.test.js"] },
});
