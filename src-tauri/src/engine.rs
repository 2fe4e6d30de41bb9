//! WebKitGTK's JavaScript engine, tuned for the editor: JavaScriptCore reads its options from the web
//! process's environment, and WebKitGTK starts that process with the app's. Linux only: macOS's WebKit
//! starts its web processes apart from the app, and Windows's WebView2 is another engine.

/// The options, as `JSC_<name>` variables. An option the environment already sets is left as it is, so a
/// person can still tune or undo each one.
/// - JavaScript is compiled sooner: by the baseline JIT after 100 counts instead of 500, by the optimising
///   DFG after 300 instead of 1,000. The first keystrokes into a long document run the editor's code
///   compiled rather than interpreted.
/// - WebAssembly is compiled by the optimising OMG tier only after 2,000,000 counts instead of 50,000.
///   Loading a long document (Automerge's `load`, seconds on automerge-paper) runs once; compiling its
///   functions with OMG meanwhile took more of the two cores than it saved.
///
/// Measured against the defaults in docs/benchmarks.md ("Issue 21, thirteenth session"): the paper's
/// keystroke p99 and its load fall, the web process holds a few MiB more of compiled code.
pub const OPTIONS: [(&str, &str); 3] = [
    ("JSC_thresholdForJITAfterWarmUp", "100"),
    ("JSC_thresholdForOptimizeAfterWarmUp", "300"),
    ("JSC_thresholdForOMGOptimizeAfterWarmUp", "2000000"),
];

/// Puts [`OPTIONS`] in this process's environment, for the web process to inherit. Called first thing in
/// `run`, before anything starts a thread.
pub(crate) fn tune() {
    #[cfg(target_os = "linux")]
    for (name, value) in OPTIONS {
        if std::env::var_os(name).is_none() {
            // SAFETY: the main thread is the only thread yet (see above), so nothing reads or writes the
            // environment concurrently.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(name, value);
            }
        }
    }
}
