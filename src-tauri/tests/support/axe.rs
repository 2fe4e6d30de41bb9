//! Accessibility checks in the window: axe-core (the UI's pinned dev dependency, read from
//! `ui/node_modules`) injected into the page through WebDriver and run on whatever it shows. Serious and
//! critical violations fail the test, with the rule, the elements and what to fix.
#![allow(dead_code, unreachable_pub)] // each includer uses a different part

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::driver::Window;

/// Where `npm ci` in `ui/` puts axe-core.
const AXE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/node_modules/axe-core/axe.min.js");

/// Runs axe on the page as it is now; fails on any serious or critical violation. `screen` names the page
/// in the failure. Answers the number of rules that passed, so a caller can tell axe really ran.
pub async fn check(window: &Window, screen: &str) -> Result<usize> {
    let loaded = window.script("return typeof window.axe === 'object'").await?;
    if loaded != json!(true) {
        let source = std::fs::read_to_string(AXE).with_context(|| format!("reading {AXE} (run `npm ci` in ui/)"))?;
        // axe's bundle sets `window.axe` when run as a function body.
        window.script(&format!("{source}\nreturn typeof window.axe === 'object';")).await?;
    }
    let script = "const done = arguments[arguments.length - 1];
        window.axe.run(document, { resultTypes: ['violations'] }).then(
          (r) => done({
            passes: r.passes.length,
            violations: r.violations.map((v) => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 6).map((n) => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\\s+/g, ' ')),
            })),
          }),
          (e) => done({ error: String(e) }),
        );";
    let result =
        window.command(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": []}))).await?;
    if let Some(error) = result["error"].as_str() {
        bail!("axe failed on {screen}: {error}");
    }
    let violations = result["violations"].as_array().cloned().unwrap_or_default();
    let blocking: Vec<&Value> =
        violations.iter().filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical"))).collect();
    if !blocking.is_empty() {
        let report: Vec<String> = blocking
            .iter()
            .map(|v| format!("{} ({}): {}\n    {}", v["id"], v["impact"], v["help"], v["nodes"]))
            .collect();
        let shot = window.screenshot(&format!("axe-{screen}")).await.unwrap_or_else(|e| format!("none, {e}"));
        bail!("accessibility violations on {screen} (screenshot: {shot}):\n{}", report.join("\n"));
    }
    for minor in &violations {
        eprintln!("axe on {screen}: {} ({}): {}", minor["id"], minor["impact"], minor["help"]);
    }
    result["passes"].as_u64().map(|n| n as usize).context("axe answered no passes")
}
