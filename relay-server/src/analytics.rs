//! Team analytics over a bounded range of days: messages per day, active members, projects by status.

use std::collections::{BTreeMap, HashMap};

use teamflow_protocol::api::integrations::Service;
use teamflow_protocol::api::teams::{Analytics, AnalyticsQuery, DayCount, ProjectStatus};
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, Time};

use crate::access::Membership;
use crate::db::{Db, to_ms};
use crate::error::ApiError;
use crate::validate::Validator;

/// The longest range one request may cover, so a query's cost stays bounded.
pub const MAX_DAYS: i64 = 366;
const DEFAULT_DAYS: i64 = 30;

/// Resolves the query's dates against `today`: both inclusive, `from <= to`, at most `MAX_DAYS` days.
pub fn resolve_range(query: &AnalyticsQuery, today: Date) -> Result<(Date, Date), ApiError> {
    let format = format_description!("[year]-[month]-[day]");
    let mut v = Validator::new();
    let mut parse = |field: &str, value: &Option<String>| match value {
        None => None,
        Some(s) => match Date::parse(s.trim(), format) {
            Ok(d) => Some(d),
            Err(_) => {
                v.fail(field, "must be a date as YYYY-MM-DD");
                None
            }
        },
    };
    let to = parse("to", &query.to);
    let from = parse("from", &query.from);
    v.finish()?;
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| to.saturating_sub(Duration::days(DEFAULT_DAYS - 1)));
    if from > to {
        return Err(ApiError::field("from", "must not be after `to`"));
    }
    if (to - from).whole_days() + 1 > MAX_DAYS {
        return Err(ApiError::field("from", format!("the range may cover at most {MAX_DAYS} days")));
    }
    Ok((from, to))
}

pub async fn team(db: &Db, member: &Membership, query: AnalyticsQuery) -> Result<Analytics, ApiError> {
    let (from, to) = resolve_range(&query, OffsetDateTime::now_utc().date())?;
    let start = to_ms(from.with_time(Time::MIDNIGHT).assume_utc());
    let end = to_ms(to.with_time(Time::MIDNIGHT).assume_utc() + Duration::days(1));
    let team_id = member.team().to_string();

    let per_day: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} AS day, COUNT(*) FROM messages
         WHERE team_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY day",
        db.utc_day("created_at")
    )))
    .bind(&team_id)
    .bind(start)
    .bind(end)
    .fetch_all(db.pool())
    .await?;
    let per_day: HashMap<String, i64> = per_day.into_iter().collect();
    let format = format_description!("[year]-[month]-[day]");
    let mut messages_per_day = Vec::new();
    let mut day = from;
    loop {
        let key = day.format(format).map_err(|e| ApiError::Internal(e.to_string()))?;
        messages_per_day.push(DayCount { date: day, count: per_day.get(&key).copied().unwrap_or(0) });
        match day.next_day() {
            Some(next) if next <= to => day = next,
            _ => break,
        }
    }
    let total_messages = messages_per_day.iter().map(|d| d.count).sum();

    let active_members: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT author_id) FROM messages WHERE team_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(&team_id)
    .bind(start)
    .bind(end)
    .fetch_one(db.pool())
    .await?;
    let member_count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM team_members WHERE team_id = $1")
        .bind(&team_id)
        .fetch_one(db.pool())
        .await?;

    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM projects WHERE team_id = $1 GROUP BY status")
            .bind(&team_id)
            .fetch_all(db.pool())
            .await?;
    let mut projects_by_status: BTreeMap<ProjectStatus, i64> = ProjectStatus::ALL.into_iter().map(|s| (s, 0)).collect();
    for (status, count) in statuses {
        let status = ProjectStatus::try_from(status).map_err(|e| ApiError::Internal(e.to_string()))?;
        projects_by_status.insert(status, count);
    }

    let services: Vec<(String, i64)> = sqlx::query_as(
        "SELECT service, COUNT(*) FROM webhook_events
         WHERE team_id = $1 AND received_at >= $2 AND received_at < $3 GROUP BY service",
    )
    .bind(&team_id)
    .bind(start)
    .bind(end)
    .fetch_all(db.pool())
    .await?;
    let mut activity_by_service: BTreeMap<Service, i64> = Service::ALL.into_iter().map(|s| (s, 0)).collect();
    for (service, count) in services {
        let service = Service::try_from(service).map_err(|e| ApiError::Internal(e.to_string()))?;
        activity_by_service.insert(service, count);
    }

    Ok(Analytics {
        from,
        to,
        messages_per_day,
        total_messages,
        active_members,
        member_count,
        projects_by_status,
        activity_by_service,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn query(from: Option<&str>, to: Option<&str>) -> AnalyticsQuery {
        AnalyticsQuery { from: from.map(Into::into), to: to.map(Into::into) }
    }

    #[test]
    fn the_default_range_is_the_last_thirty_days() {
        let today = date!(2026 - 03 - 31);
        assert_eq!(resolve_range(&query(None, None), today).expect("range"), (date!(2026 - 03 - 02), today));
    }

    #[test]
    fn ranges_are_checked() {
        let today = date!(2026 - 03 - 31);
        assert!(resolve_range(&query(Some("2026-01-01"), Some("2026-12-31")), today).is_ok());
        for (from, to) in [
            (Some("2026-02-01"), Some("2026-01-01")),
            (Some("2025-01-01"), Some("2026-12-31")),
            (Some("yesterday"), None),
            (None, Some("2026-13-01")),
        ] {
            let error = resolve_range(&query(from, to), today).expect_err("refused");
            assert_eq!(error.code().as_str(), "validation_failed", "{from:?}..{to:?}");
        }
    }
}
