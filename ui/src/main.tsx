// The window's entry point.
import React from "react";
import ReactDOM from "react-dom/client";
import { App } from "./app/App";
import { applyStoredTheme } from "./features/appearance/theme";
import { ScreenBoundary } from "./lib/ScreenBoundary";
import "./styles.css";

// Until the remembered theme is read, the system's shows; a failure to read it leaves the system's.
applyStoredTheme().catch((e) => console.warn("theme not restored", e));

ReactDOM.createRoot(document.getElementById("root")!).render(
  <React.StrictMode>
    {/* The last stop for a failure outside the workspace's screens (signing in, the workspace's frame). */}
    <ScreenBoundary>
      <App />
    </ScreenBoundary>
  </React.StrictMode>,
);
