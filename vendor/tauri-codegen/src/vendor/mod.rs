// Copyright 2019-2024 Tauri Programme within The Commons Conservancy
// SPDX-License-Identifier: Apache-2.0
// SPDX-License-Identifier: MIT

//! Manual vendored dependencies - NOT STABLE.
//!
//! This module and all submodules are not considered part of the public
//! api. They can and will change at any time for any reason in any
//! version.

pub mod blake3_reference;
