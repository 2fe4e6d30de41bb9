//! TeamFlow's desktop shell: a Tauri window over the headless node (`teamflow-node`). The shell adapts
//! the node to typed commands and events (tauri-specta, bindings generated into `ui/src/bindings.ts`)
//! and holds no business logic of its own.

mod commands;
mod deep_links;
mod error;
pub mod events;
mod navigation;
// `#[tauri::command]` expands to code that discards a `Result` with `let _ =`.
#[allow(clippy::let_underscore_must_use)]
mod quit;
mod recovery;
mod shell;

use tauri::{Manager, Wry};
use tauri_specta::{Builder, collect_events};

pub use error::AppError;
pub use shell::{Settings, Shell, Theme};

/// Where the generated TypeScript bindings live, relative to this crate.
pub const BINDINGS: &str = "../ui/src/bindings.ts";

/// The commands and events, as both the running app and the bindings generator see them.
pub fn specta_builder() -> Builder<Wry> {
    Builder::<Wry>::new()
        .commands(commands::all())
        .events(collect_events![
            events::StatusChanged,
            events::RoomEvent,
            events::DocumentChanged,
            events::PresenceChanged,
            quit::QuitRequested,
            deep_links::LinkOpened
        ])
        // The peer ids in `Status::peers` that are not teammates' devices: the relay, and this window.
        .constant("RELAY_PEER_ID", teamflow_node::RELAY_PEER_ID)
        .constant("WINDOW_PEER_ID", teamflow_node::WINDOW_PEER_ID)
        // How a change's message names its author, for the window to write and history to read.
        .constant("AUTHOR_PREFIX", teamflow_node::AUTHOR_PREFIX)
        .constant("MIRRORED_CLIENT_PREFIX", teamflow_protocol::api::messages::MIRRORED_CLIENT_PREFIX)
        // Counts, sequence numbers and positions are far below 2^53: plain numbers are what arrives.
        .dangerously_cast_bigints_to_number()
        // One TypeScript type per Rust type: the window receives what Rust serializes and sends what it
        // deserializes, and the few input types read the same both ways.
        .disable_serde_phases()
}

/// Writes the TypeScript bindings to `path`.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder()
        .export(specta_typescript::Typescript::default().header("// @ts-nocheck\n"), path)
        .map_err(|e| e.to_string())
}

/// Runs the app until its window closes.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,teamflow=debug".into()),
        )
        .init();
    let builder = specta_builder();
    let context = tauri::generate_context!();
    let mut app = tauri::Builder::default();
    // First, as the plugin asks: a second start on the same data hands its `teamflow://` link to this one
    // (through the deep-link plugin, below) and ends before opening anything.
    if let Some(single_instance) = deep_links::single_instance(&context.config().identifier) {
        app = app.plugin(single_instance);
    }
    let app = app
        .plugin(navigation::guard())
        .plugin(tauri_plugin_deep_link::init())
        // For `open_link` (links open in the system browser). The window is granted none of its commands:
        // the only way to it is that command, which opens http(s) links alone.
        .plugin(tauri_plugin_opener::init())
        // For exports: the save dialog is opened from Rust (`export_document`); the window is granted none of
        // the plugin's own commands.
        .plugin(tauri_plugin_dialog::init())
        // Native notifications, shown by the shell's `notify` command; the window is granted none of the
        // plugin's own commands.
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            deep_links::listen(app.handle());
            if let Some(window) = app.get_webview_window("main") {
                recovery::reload_when_the_page_ends(&window);
            }
            let handle = app.handle().clone();
            let data_root = shell::data_root(&handle)?;
            let shell = tauri::async_runtime::block_on(Shell::open(handle, data_root))?;
            app.manage(shell);
            quit::on_signals(app.handle().clone());
            Ok(())
        })
        // Closing the window quits once the window has handed its edits to the node (`quit`).
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                quit::request(window.app_handle());
            }
        })
        .build(context);
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "the app could not start");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| match event {
        // Asked to exit by the platform (the app menu's Quit, Cmd+Q) while the window is still there: it
        // hands its edits over first. With no window left (it was destroyed), there is nothing to wait for.
        tauri::RunEvent::ExitRequested { code: None, api, .. } if !handle.webview_windows().is_empty() => {
            api.prevent_exit();
            quit::request(handle);
        }
        tauri::RunEvent::Exit => {
            if let Some(shell) = handle.try_state::<Shell<Wry>>() {
                tauri::async_runtime::block_on(async {
                    if tokio::time::timeout(quit::CLOSE_LIMIT, shell.close()).await.is_err() {
                        tracing::warn!("the node did not stop in time; exiting without waiting for it");
                    }
                });
            }
        }
        _ => {}
    });
}

#[cfg(test)]
mod tests {
    /// Every file of the UI is embedded whole. One cut short fails to decompress, and the window is
    /// answered with `index.html` in its place: a screen whose code is in it never opens. tauri-codegen
    /// could embed a file another compilation was still writing (`vendor/README.md`). This sees the copy
    /// this test binary embedded, not the library's (the app's), though both read the same cached files:
    /// a file cut short in the cache shows here too.
    #[test]
    fn every_file_of_the_ui_is_embedded_whole() {
        let context: tauri::Context<tauri::Wry> = tauri::generate_context!();
        let assets = context.assets();
        let names: Vec<String> = assets.iter().map(|(name, _)| name.into_owned()).collect();
        assert!(names.iter().any(|name| name.ends_with(".js")), "no script embedded: {names:?}");
        for name in names {
            let file = assets.get(&tauri::utils::assets::AssetKey::from(name.as_str()));
            assert!(file.is_some_and(|file| !file.is_empty()), "{name} is embedded cut short");
        }
    }

    /// The tags of a union in the committed bindings (which `bindings_are_up_to_date` keeps true to the
    /// code): `{ field: "tag"` after `export type name =`, up to the next type.
    fn tags_of(name: &str, field: &str) -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bindings = std::fs::read_to_string(root.join(super::BINDINGS)).expect("bindings");
        let union = bindings.split(&format!("export type {name} =")).nth(1).expect("the union");
        let union = union.split("export type ").next().unwrap_or_default();
        union
            .split(&format!("{{ {field}: \""))
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect()
    }

    /// The part of a guide under `heading`, up to the next heading of its level.
    fn section(guide: &str, heading: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("../docs").join(guide)).expect("the guide");
        let rest = text.split(heading).nth(1).unwrap_or_else(|| panic!("{guide} has no {heading}"));
        rest.split("\n## ").next().unwrap_or_default().to_owned()
    }

    /// Every frame the relay's realtime socket can send has its row in docs/realtime.md.
    #[test]
    fn every_realtime_frame_is_documented() {
        let frames = tags_of("ServerMessage", "type");
        assert!(frames.len() > 20 && frames.iter().any(|f| f == "activity"), "the frames were read: {frames:?}");
        // Each row's first cell: a frame's name, or two (`user_joined` / `user_left`).
        let table = section("realtime.md", "## Server to client");
        let rows: Vec<&str> = table
            .lines()
            .filter_map(|line| line.strip_prefix('|')?.split('|').next())
            .flat_map(|cell| cell.split(" / "))
            .map(|name| name.trim().trim_matches('`'))
            .collect();
        for frame in frames {
            assert!(rows.contains(&frame.as_str()), "docs/realtime.md has no row for the `{frame}` frame");
        }
    }

    /// Every kind of error a command can answer, and every event the window hears, is in docs/desktop.md.
    #[test]
    fn every_error_kind_and_event_of_the_window_is_documented() {
        let kinds = tags_of("AppError", "kind");
        assert!(kinds.len() >= 10 && kinds.iter().any(|k| k == "data_in_use"), "the kinds were read: {kinds:?}");
        let guide = section("desktop.md", "## Commands and events");
        for kind in kinds {
            assert!(guide.contains(&format!("| `{kind}` |")), "docs/desktop.md has no row for the `{kind}` error");
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bindings = std::fs::read_to_string(root.join(super::BINDINGS)).expect("bindings");
        // `name: makeEvent<Payload, Payload>("event-name"),`, one line an event.
        let events: Vec<&str> = bindings
            .lines()
            .filter(|line| line.contains(": makeEvent<"))
            .filter_map(|line| line.split(">(\"").nth(1)?.split('"').next())
            .collect();
        assert!(events.len() >= 6, "the events were read: {events:?}");
        for event in events {
            assert!(guide.contains(&format!("`{event}`")), "docs/desktop.md does not name the `{event}` event");
        }
    }

    /// The committed bindings are what the code generates: regenerate with
    /// `UPDATE_BINDINGS=1 cargo test -p teamflow-desktop bindings`.
    #[test]
    fn bindings_are_up_to_date() {
        let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(super::BINDINGS);
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            super::export_bindings(&committed).expect("export");
        }
        let fresh = tempfile::NamedTempFile::new().expect("temp file");
        super::export_bindings(fresh.path()).expect("export");
        let generated = std::fs::read_to_string(fresh.path()).expect("generated");
        let current = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            generated == current,
            "ui/src/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p teamflow-desktop bindings` and commit it"
        );
    }
}
