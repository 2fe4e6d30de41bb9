//! The desktop app's entry point: everything lives in the library so tests drive the same code.

// No console window behind the app on Windows release builds.
#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

fn main() {
    teamflow_desktop::run();
}
