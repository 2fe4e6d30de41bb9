//! Exporting a document from the editor: the system's save dialog opens with the title as the file's name,
//! cancelling it writes nothing, and the Markdown and HTML files saved hold the document's formatting,
//! including a check-list item ticked with the mouse.

use anyhow::{Context, Result, ensure};

use crate::driver::{Theme, Window, turn};
use teamflow_tests::TestRelay;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_is_exported_as_markdown_and_html_through_the_save_dialog() -> Result<()> {
    let turn = turn().await;
    let theme = Theme::Light;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let window = Window::launch_in(turn, theme).await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Writers").await?;
    window.create_document(&ada, &team, "Ops runbook", "Restart the relay").await?;
    // Make the line a heading and add a bold word, as a person types them.
    caret_in(&window, "p", "true").await?;
    window.type_into("[data-testid=editor]", "# ").await?;
    window.until_editor_html("<h1>Restart the relay</h1>").await?;
    caret_in(&window, "h1", "false").await?;
    window.type_into("[data-testid=editor]", "\u{E007}Do it **carefully** ").await?;
    window.until_editor_html("<strong>carefully</strong>").await?;
    // A check list, its item ticked with the mouse.
    window.type_into("[data-testid=editor]", "\u{E007}[ ] call the team").await?;
    window.until_editor_html("call the team").await?;
    window.click("[data-testid=editor] li.check-item input").await?;
    window
        .until_page(
            "the item ticked, its box drawn checked",
            "const item = document.querySelector('[data-testid=editor] li.check-item');
             return item?.dataset.checked === 'true' && item.querySelector('input').checked;",
            &[],
        )
        .await?;

    let dir = tempfile::tempdir()?;
    // Cancelled: nothing written, nothing said.
    window.click("[data-testid=export-html]").await?;
    window.answer_dialog("Export document", None, &theme.shot("export-dialog")).await?;
    window.painted().await?;
    ensure!(window.all("[data-testid=export-saved]").await?.is_empty(), "a cancelled export says nothing was saved");
    ensure!(std::fs::read_dir(dir.path())?.next().is_none(), "a cancelled export wrote a file");

    // Markdown.
    let markdown = dir.path().join("runbook.md");
    window.click("[data-testid=export-markdown]").await?;
    window.answer_dialog("Export document", Some(&markdown), &theme.shot("export-dialog-markdown")).await?;
    window.until_text("[data-testid=export-saved]", &markdown.display().to_string()).await?;
    let text = std::fs::read_to_string(&markdown).context("the Markdown export")?;
    ensure!(text.contains("# Restart the relay"), "the heading in Markdown: {text}");
    ensure!(text.contains("**carefully**"), "the bold word in Markdown: {text}");
    ensure!(text.contains("- [x] call the team"), "the ticked item in Markdown: {text}");
    window.screenshot(&theme.shot("export-saved")).await?;

    // HTML.
    let html = dir.path().join("runbook.html");
    window.click("[data-testid=export-html]").await?;
    window.answer_dialog("Export document", Some(&html), &theme.shot("export-dialog-html")).await?;
    window.until_text("[data-testid=export-saved]", &html.display().to_string()).await?;
    let page = std::fs::read_to_string(&html).context("the HTML export")?;
    ensure!(page.contains("<title>Ops runbook</title>"), "the page's title: {page}");
    ensure!(page.contains("<h1>Restart the relay</h1>"), "the heading in HTML: {page}");
    ensure!(page.contains("<strong>carefully</strong>"), "the bold word in HTML: {page}");
    ensure!(page.contains("checked"), "the ticked item in HTML: {page}");
    window.close().await
}

/// Puts the caret at the start (`"true"`) or end (`"false"`) of the editor's first `tag` block.
async fn caret_in(window: &Window, tag: &str, at_start: &str) -> Result<()> {
    window
        .script(&format!(
            "const block = document.querySelector('[data-testid=editor] {tag}');
             document.querySelector('[data-testid=editor]').focus();
             const range = document.createRange(); range.selectNodeContents(block); range.collapse({at_start});
             const s = getSelection(); s.removeAllRanges(); s.addRange(range); return true;"
        ))
        .await?;
    Ok(())
}
