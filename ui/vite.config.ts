/// <reference types="vitest" />
import { defineConfig } from "vite";

// Preact's JSX through esbuild (tsconfig's jsxImportSource); no Babel plugin needed.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
  test: { include: ["tests/**/*.test.ts"], environment: "node" },
});
