//! The analytics screen against a real relay: a teammate's messages and the team's projects drawn as
//! charts (the canvases really painted), summarised in words and listed as tables; switching the range
//! asks the relay again. Accessibility checked with axe; screenshots in both themes.

use anyhow::{Result, ensure};
use serde_json::json;

use crate::axe;
use crate::driver::Theme;
use crate::teammates::Teammates;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_chart_the_teams_messages_projects_and_services() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analytics_screen_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

/// How many of a canvas's pixels are painted (not transparent).
const PAINTED: &str = "const c = document.querySelector(args[0]);
    if (!c || !c.width) return 0;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return painted;";

async fn walk_through(theme: Theme) -> Result<()> {
    let Teammates { relay: _relay, ada, bob, window, team } = Teammates::open(theme, "Numbers").await?;
    for (i, text) in ["Morning all", "Standup in 5", "Shipped it"].iter().enumerate() {
        let body = json!({ "client_id": format!("bob-{i}"), "content": text });
        let (status, _) = bob.post(&format!("/api/teams/{team}/messages"), &body).await;
        ensure!(status.is_success(), "bob's message: {status}");
    }
    for (name, status) in [("Site", "active"), ("App", "planned"), ("Docs", "active")] {
        let (code, _) =
            ada.post(&format!("/api/teams/{team}/projects"), &json!({ "name": name, "status": status })).await;
        ensure!(code.is_success(), "project: {code}");
    }

    window.click("[data-testid=nav-analytics]").await?;
    window.until_text("[data-testid=chart-messages-summary]", "3 messages from").await?;
    window.until_text("[data-testid=chart-statuses-summary]", "3 projects: 1 planned, 2 active.").await?;
    window.until_text("[data-testid=chart-services-summary]", "No activity from connected services").await?;
    window.until_text("[data-testid=analytics-totals]", "1 of 2 members posted").await?;
    for chart in ["chart-messages", "chart-services", "chart-statuses"] {
        let painted = window.script(&format!("const args = ['[data-testid={chart}]']; {PAINTED}")).await?;
        ensure!(painted.as_u64().is_some_and(|n| n > 500), "{chart} is not drawn: {painted}");
        let label = window
            .script(&format!("return document.querySelector('[data-testid={chart}]').getAttribute('aria-label')"))
            .await?;
        ensure!(label.as_str().is_some_and(|l| !l.is_empty()), "{chart} has no text alternative");
    }
    window.screenshot(&theme.shot("analytics")).await?;
    axe::check(&window, &theme.shot("analytics")).await?;

    // The numbers as a table, for those who prefer them.
    window
        .click("[data-testid=chart-statuses] ~ details summary, figure:has([data-testid=chart-statuses]) summary")
        .await?;
    window.until_text("[data-testid=chart-statuses-table]", "Active").await?;
    let active = window
        .script("return [...document.querySelectorAll('[data-testid=chart-statuses-table] tr')].find(r => r.innerText.includes('Active'))?.querySelector('td')?.textContent")
        .await?;
    ensure!(active == json!("2"), "two active projects in the table: {active}");
    axe::check(&window, &theme.shot("analytics-table")).await?;

    // A shorter range is asked of the relay again: 7 days ending today.
    window.click("[data-testid=range-7]").await?;
    let week = window
        .script("const d = new Date(); d.setUTCDate(d.getUTCDate() - 6); return d.toISOString().slice(0, 10);")
        .await?;
    let week = week.as_str().unwrap_or_default().to_owned();
    window.until_text("[data-testid=analytics-totals]", &format!("{week} to")).await?;
    window.until_text("[data-testid=chart-messages-summary]", "3 messages from").await?;
    window.screenshot(&theme.shot("analytics-week")).await?;
    window.close().await
}
