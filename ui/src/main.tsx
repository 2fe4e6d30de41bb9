// The window's entry point.
import React from "react";
import ReactDOM from "react-dom/client";
import { App } from "./app/App";
import { applyStoredTheme } from "./features/appearance/theme";
import "./styles.css";

// Until the remembered theme is read, the system's shows; a failure to read it leaves the system's.
applyStoredTheme().catch((e) => console.warn("theme not restored", e));

ReactDOM.createRoot(document.getElementById("root")!).render(
  <React.StrictMode>
    <App />
  </React.StrictMode>,
);
