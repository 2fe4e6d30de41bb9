//! Per-field merging of project and task edits: each field's version and the stamp of its last edit, and
//! the rule that decides between concurrent edits of one field.
//!
//! An edit made on the field's current version simply applies. One made on an older version is concurrent
//! with whatever changed the field since; between the two, the later stamp wins (the edit's time, capped
//! at the relay's clock, then the user id), whichever arrives first. The loser is recorded in the history,
//! so nothing disappears without a trace.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use teamflow_protocol::UserId;
use teamflow_protocol::api::projects::ChangeOutcome;

use crate::error::ApiError;

/// A field's version and the stamp of the edit that set its current value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub v: i64,
    pub at: i64,
    pub by: String,
}

/// Every edited field's stamp, by field name (the `field_stamps` column); absent fields are at version 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamps(BTreeMap<String, Stamp>);

impl Stamps {
    pub fn parse(json: &str) -> Result<Self, ApiError> {
        serde_json::from_str(json).map(Stamps).map_err(|e| ApiError::Internal(format!("field stamps in database: {e}")))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    pub fn version(&self, field: &str) -> i64 {
        self.0.get(field).map_or(0, |s| s.v)
    }

    /// Decides an edit of `field` made on version `base` (`None`: on the current one) at `at` by `by`, and
    /// records the new stamp when it applies. `None` when the edit lost.
    pub fn resolve(&mut self, field: &str, base: Option<i64>, at: i64, by: UserId) -> Option<ChangeOutcome> {
        let current = self.0.get(field).cloned().unwrap_or_default();
        let by = by.to_string();
        let outcome = if base.is_none_or(|base| base >= current.v) {
            ChangeOutcome::Applied
        } else if (at, by.as_str()) > (current.at, current.by.as_str()) {
            ChangeOutcome::Overwrote
        } else {
            return None;
        };
        // The stamp never goes back in time: an edit made on the current value follows it, even from a
        // device whose clock is behind, so a concurrent edit must beat this one, not an older one.
        self.0.insert(field.to_owned(), Stamp { v: current.v + 1, at: at.max(current.at), by });
        Some(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> (UserId, UserId) {
        let (a, b) = (UserId::new(), UserId::new());
        if a.to_string() < b.to_string() { (a, b) } else { (b, a) }
    }

    #[test]
    fn an_edit_on_the_current_version_applies_and_bumps_it() {
        let mut stamps = Stamps::default();
        let (a, _) = users();
        assert_eq!(stamps.resolve("name", Some(0), 10, a), Some(ChangeOutcome::Applied));
        assert_eq!(stamps.version("name"), 1);
        assert_eq!(stamps.resolve("name", None, 5, a), Some(ChangeOutcome::Applied), "no base: on the current");
        assert_eq!(stamps.version("name"), 2);
        assert_eq!(stamps.version("status"), 0);
    }

    #[test]
    fn concurrent_edits_end_the_same_whichever_arrives_first() {
        let (a, b) = users();
        // a edits at 20, b at 10, both on version 0.
        let mut first_a = Stamps::default();
        assert_eq!(first_a.resolve("name", Some(0), 20, a), Some(ChangeOutcome::Applied));
        assert_eq!(first_a.resolve("name", Some(0), 10, b), None, "the earlier edit loses");
        let mut first_b = Stamps::default();
        assert_eq!(first_b.resolve("name", Some(0), 10, b), Some(ChangeOutcome::Applied));
        assert_eq!(first_b.resolve("name", Some(0), 20, a), Some(ChangeOutcome::Overwrote), "the later one wins");
        assert_eq!(first_a.0["name"].by, first_b.0["name"].by, "the same winner");
    }

    #[test]
    fn equal_times_are_decided_by_user_id() {
        let (low, high) = users();
        let mut s = Stamps::default();
        s.resolve("name", Some(0), 10, low);
        assert_eq!(s.resolve("name", Some(0), 10, high), Some(ChangeOutcome::Overwrote));
        let mut s = Stamps::default();
        s.resolve("name", Some(0), 10, high);
        assert_eq!(s.resolve("name", Some(0), 10, low), None);
    }

    #[test]
    fn an_edit_following_the_current_value_keeps_its_place_despite_a_slow_clock() {
        let (a, b) = users();
        let mut s = Stamps::default();
        s.resolve("name", Some(0), 100, a);
        s.resolve("name", Some(1), 50, b);
        assert_eq!(s.0["name"].at, 100);
        assert_eq!(s.resolve("name", Some(0), 80, a), None, "concurrent with both, older than the stamp");
        assert_eq!(Stamps::parse(&s.to_json()).expect("round trip"), s);
    }
}
