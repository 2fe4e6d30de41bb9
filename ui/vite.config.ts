// Vite builds the window's UI into ui/dist, which the desktop crate embeds; Vitest runs the unit tests.
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "es2021", outDir: "dist", emptyOutDir: true },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    // Run through Vitest rather than Node, so that a test can stand in for one of the binding's own modules
    // (`unmappable.test.ts`: a change the binding cannot draw).
    server: { deps: { inline: ["@automerge/prosemirror"] } },
  },
});
