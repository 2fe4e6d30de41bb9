// Builds the JavaScriptCore harness (keys.ts) into one script the `jsc` shell runs.
import { defineConfig } from "vite";
export default defineConfig({
  build: {
    target: "es2021",
    outDir: "out",
    emptyOutDir: false,
    minify: false,
    lib: { entry: process.env.ENTRY ?? "keys.ts", formats: ["iife"], name: "harness", fileName: () => (process.env.ENTRY ?? "keys.ts").replace(".ts", ".js") },
  },
});
