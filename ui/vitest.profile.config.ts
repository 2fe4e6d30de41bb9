// Vitest for the profiling harness in profile/ (not tests: they time and profile the editor on the
// automerge-paper document; see profile/paper.profile.ts).
import { defineConfig } from "vitest/config";
export default defineConfig({
  test: { environment: "jsdom", include: ["profile/**/*.profile.ts"], testTimeout: 600_000, hookTimeout: 600_000 },
});
