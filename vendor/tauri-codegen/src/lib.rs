// Copyright 2019-2024 Tauri Programme within The Commons Conservancy
// SPDX-License-Identifier: Apache-2.0
// SPDX-License-Identifier: MIT

//! - Embed, hash, and compress assets, including icons for the app as well as the tray icon.
//! - Parse `tauri.conf.json` at compile time and generate the Config struct.

#![doc(
  html_logo_url = "https://github.com/tauri-apps/tauri/raw/dev/.github/icon.png",
  html_favicon_url = "https://github.com/tauri-apps/tauri/raw/dev/.github/icon.png"
)]

pub use self::context::{ContextData, context_codegen};
use crate::embedded_assets::{EmbeddedAssetsError, ensure_out_dir};
use proc_macro2::TokenStream;
use quote::{ToTokens, TokenStreamExt, quote};
use std::{
  borrow::Cow,
  fmt::{self, Write},
  fs::File,
  path::{Path, PathBuf},
  sync::atomic::{AtomicUsize, Ordering},
  time::{Duration, SystemTime},
};
pub use tauri_utils::config::{Config, parse::ConfigError};
use tauri_utils::platform::Target;

mod context;
pub mod embedded_assets;
pub mod image;
#[doc(hidden)]
pub mod vendor;

/// Represents all the errors that can happen while reading the config during codegen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenConfigError {
  #[error("unable to access current working directory: {0}")]
  CurrentDir(std::io::Error),

  // this error should be "impossible" because we use std::env::current_dir() - cover it anyways
  #[error(
    "Tauri config file has no parent, this shouldn't be possible. file an issue on https://github.com/tauri-apps/tauri - target {0}"
  )]
  Parent(PathBuf),

  #[error("unable to parse inline JSON TAURI_CONFIG env var: {0}")]
  FormatInline(serde_json::Error),

  #[error(transparent)]
  Json(#[from] serde_json::Error),

  #[error("{0}")]
  ConfigError(#[from] ConfigError),
}

/// Get the [`Config`] from the `TAURI_CONFIG` environmental variable, or read from the passed path.
///
/// If the passed path is relative, it should be relative to the current working directory of the
/// compiling crate.
pub fn get_config(path: &Path) -> Result<(Config, PathBuf), CodegenConfigError> {
  let path = if path.is_relative() {
    let cwd = std::env::current_dir().map_err(CodegenConfigError::CurrentDir)?;
    Cow::Owned(cwd.join(path))
  } else {
    Cow::Borrowed(path)
  };

  // this should be impossible because of the use of `current_dir()` above, but handle it anyways
  let parent = path
    .parent()
    .map(ToOwned::to_owned)
    .ok_or_else(|| CodegenConfigError::Parent(path.into_owned()))?;

  let target = std::env::var("TAURI_ENV_TARGET_TRIPLE")
    .as_deref()
    .map(Target::from_triple)
    .unwrap_or_else(|_| Target::current());

  // in the future we may want to find a way to not need the TAURI_CONFIG env var so that
  // it is impossible for the content of two separate configs to get mixed up. The chances are
  // already unlikely unless the developer goes out of their way to run the cli on a different
  // project than the target crate.
  let mut config =
    serde_json::from_value(tauri_utils::config::parse::read_from(target, &parent)?.0)?;

  if let Ok(env) = std::env::var("TAURI_CONFIG") {
    let merge_config: serde_json::Value =
      serde_json::from_str(&env).map_err(CodegenConfigError::FormatInline)?;
    json_patch::merge(&mut config, &merge_config);
  }

  // Set working directory to where `tauri.config.json` is, so that relative paths in it are parsed correctly.
  let old_cwd = std::env::current_dir().map_err(CodegenConfigError::CurrentDir)?;
  std::env::set_current_dir(parent.clone()).map_err(CodegenConfigError::CurrentDir)?;

  let config = serde_json::from_value(config)?;

  // Reset working directory.
  std::env::set_current_dir(old_cwd).map_err(CodegenConfigError::CurrentDir)?;

  Ok((config, parent))
}

/// Create a blake3 checksum of the passed bytes.
fn checksum(bytes: &[u8]) -> Result<String, fmt::Error> {
  let mut hasher = vendor::blake3_reference::Hasher::default();
  hasher.update(bytes);

  let mut bytes = [0u8; 32];
  hasher.finalize(&mut bytes);

  let mut hex = String::with_capacity(2 * bytes.len());
  for b in bytes {
    write!(hex, "{b:02x}")?;
  }
  Ok(hex)
}

/// Set the modification time of a file written to `$OUT_DIR` to 2000-01-01 UTC.
///
/// The generated code embeds these files with `include_bytes!`, so Cargo checks them for changes
/// like source files: it treats a file modified after the compilation started as changed, and the
/// macro writes the file during the compilation. Without this, the next build recompiles the crate.
/// Each file name is a checksum of the data the file was generated from, so the modification time
/// isn't needed to tell versions apart. Unlike the Unix epoch, the date fits FAT and exFAT. Errors
/// are ignored, since at worst the next build recompiles the crate as before.
fn backdate(path: &Path) {
  let _ = std::fs::File::options()
    .write(true)
    .open(path)
    .and_then(|file| file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800)));
}

/// Write a file of `$OUT_DIR`, named by the checksum of the data it is written from, unless it is there
/// already.
///
/// The file appears under its name whole or not at all: it is written under a name of its own and
/// then renamed. Every compilation of a crate shares the crate's `$OUT_DIR`, and `cargo test` compiles
/// a library and its unit tests at once, so two expansions of `generate_context!` may run side by
/// side. Written in place, one of them could find the file the other had created but not yet filled,
/// take it as done, and embed the part written so far: an app whose larger assets fail to decompress
/// and are answered with the fallback page instead.
pub(crate) fn write_whole(
  path: &Path,
  write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
  if path.exists() {
    return Ok(());
  }
  static WRITTEN: AtomicUsize = AtomicUsize::new(0);
  let name = path.file_name().unwrap_or_default().to_string_lossy();
  let partial = path.with_file_name(format!(
    ".{name}.{}-{}.partial",
    std::process::id(),
    WRITTEN.fetch_add(1, Ordering::Relaxed)
  ));
  let written = File::create(&partial).and_then(|mut file| {
    write(&mut file)?;
    drop(file);
    backdate(&partial);
    std::fs::rename(&partial, path)
  });
  if written.is_err() {
    let _ = std::fs::remove_file(&partial);
    // Renaming over a file another compilation holds open fails on Windows; that file is whole.
    if path.exists() {
      return Ok(());
    }
  }
  written
}

/// Cache the data to `$OUT_DIR`, only if it does not already exist.
///
/// Due to using a checksum as the filename, an existing file should be the exact same content
/// as the data being checked.
struct Cached {
  checksum: String,
}

impl TryFrom<String> for Cached {
  type Error = EmbeddedAssetsError;

  fn try_from(value: String) -> Result<Self, Self::Error> {
    Self::try_from(Vec::from(value))
  }
}

impl TryFrom<Vec<u8>> for Cached {
  type Error = EmbeddedAssetsError;

  fn try_from(content: Vec<u8>) -> Result<Self, Self::Error> {
    let checksum = checksum(content.as_ref()).map_err(EmbeddedAssetsError::Hex)?;
    let path = ensure_out_dir()?.join(&checksum);

    write_whole(&path, |file| std::io::Write::write_all(file, &content))
      .map(|_| Self { checksum })
      .map_err(|error| EmbeddedAssetsError::AssetWrite { path, error })
  }
}

impl ToTokens for Cached {
  fn to_tokens(&self, tokens: &mut TokenStream) {
    let path = &self.checksum;
    tokens.append_all(quote!(::std::concat!(::std::env!("OUT_DIR"), "/", #path)))
  }
}

#[cfg(test)]
mod tests {
  use crate::{
    Cached,
    embedded_assets::{AssetOptions, EmbeddedAssets},
  };
  use std::time::{Duration, SystemTime};
  use tauri_utils::config::PatternKind;

  #[test]
  fn a_file_being_written_is_not_there_under_its_name() {
    let dir = std::env::temp_dir().join(format!("tauri-codegen-whole-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("0123abcd.js");

    // Half way through the write, another expansion looks for the file, as it would to skip writing it.
    let mut seen_half_way = None;
    crate::write_whole(&path, |file| {
      std::io::Write::write_all(file, &[b'a'; 4096])?;
      seen_half_way = Some(path.exists());
      std::io::Write::write_all(file, &[b'b'; 4096])
    })
    .unwrap();
    let whole = std::fs::read(&path).unwrap();
    // A file already there is kept as it is: its name is the checksum of what it holds.
    crate::write_whole(&path, |_| panic!("written again")).unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(seen_half_way, Some(false), "a half-written file was there under its name");
    assert_eq!(whole.len(), 8192);
    assert_eq!(left, [std::ffi::OsString::from("0123abcd.js")], "nothing else is left behind");
  }

  #[test]
  fn out_dir_files_are_backdated() {
    let dir = std::env::temp_dir().join(format!("tauri-codegen-backdate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out_dir = dir.join("out");
    let dist = dir.join("dist");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<html></html>").unwrap();
    // SAFETY: no other thread in this test binary accesses the environment outside `std::env`;
    // the other tests only process in-memory icons
    unsafe { std::env::set_var("OUT_DIR", &out_dir) };

    let cached = Cached::try_from(vec![1, 2, 3]).unwrap();
    EmbeddedAssets::new(
      dist,
      &AssetOptions::new(PatternKind::Brownfield),
      |_, _, _, _| Ok(()),
    )
    .unwrap();

    let mut files = vec![out_dir.join(&cached.checksum)];
    for entry in std::fs::read_dir(out_dir.join("tauri-codegen-assets")).unwrap() {
      files.push(entry.unwrap().path());
    }
    let modified: Vec<_> = files
      .iter()
      .map(|file| std::fs::metadata(file).unwrap().modified().unwrap())
      .collect();

    // unset `OUT_DIR` and remove the test files before the assertions, so a failed one leaves
    // nothing behind
    // SAFETY: see above
    unsafe { std::env::remove_var("OUT_DIR") };
    std::fs::remove_dir_all(&dir).unwrap();

    // 2000-01-01 UTC
    let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    assert_eq!(files.len(), 2);
    for (file, modified) in files.iter().zip(modified) {
      assert_eq!(modified, expected, "{}", file.display());
    }
  }
}
