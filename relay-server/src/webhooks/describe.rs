//! Turns a provider's event into a readable activity line with a link ("alice pushed 3 commits to main").
//!
//! Everything here comes from a provider, so it is sanitised before it becomes a line or a chat message:
//! control and bidirectional-override characters dropped, lengths bounded, links only `http(s)`.

use serde_json::Value;
use teamflow_protocol::api::integrations::{Service, is_web_link};

/// What an event means to a person reading the team's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub summary: String,
    pub url: Option<String>,
    /// For chat-like events (Slack messages): who said what, to mirror into the team's chat.
    pub chat: Option<(String, String)>,
}

fn s<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The longest activity line kept; a chat mirror is bounded by the message limit instead.
pub(crate) const MAX_SUMMARY_CHARS: usize = 500;

pub fn describe(service: Service, event_type: &str, payload: &Value) -> Description {
    let raw = match service {
        Service::Github => github(event_type, payload),
        Service::Slack => slack(payload),
        Service::Trello => trello(event_type, payload),
    };
    Description {
        summary: sanitise(&raw.summary, false).chars().take(MAX_SUMMARY_CHARS).collect(),
        url: raw.url.filter(|u| is_web_link(u)),
        chat: raw.chat.map(|(who, text)| (sanitise(&who, false), sanitise(&text, true))),
    }
}

/// Drops what would corrupt or disguise text: control characters (keeping newlines and tabs where text may
/// span lines, else turning them into spaces) and the invisible bidirectional controls that can make a
/// line read differently from what it says.
pub(crate) fn sanitise(text: &str, multi_line: bool) -> String {
    let cleaned: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' | '\t' if multi_line => Some(c),
            '\r' if multi_line => None,
            '\n' | '\t' | '\r' => Some(' '),
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    cleaned.trim().to_owned()
}

fn github(event: &str, p: &Value) -> Description {
    let repo = s(p, "/repository/full_name").unwrap_or("a repository");
    let (summary, url) = match event {
        "push" => {
            let who = s(p, "/pusher/name").or_else(|| s(p, "/sender/login")).unwrap_or("someone");
            let git_ref = s(p, "/ref").unwrap_or_default();
            let branch =
                git_ref.strip_prefix("refs/heads/").or_else(|| git_ref.strip_prefix("refs/tags/")).unwrap_or(git_ref);
            let commits = p.pointer("/commits").and_then(Value::as_array).map_or(0, Vec::len);
            (format!("{who} pushed {} to {branch}", plural(commits, "commit", "commits")), s(p, "/compare"))
        }
        "pull_request" => {
            let number = p.pointer("/pull_request/number").or_else(|| p.pointer("/number")).and_then(Value::as_i64);
            let merged = p.pointer("/pull_request/merged").and_then(Value::as_bool) == Some(true);
            let action = match s(p, "/action") {
                Some("closed") if merged => "merged",
                Some(action) => action,
                None => "updated",
            };
            let title = s(p, "/pull_request/title").unwrap_or_default();
            (format!("PR #{} {action}: {title}", number.unwrap_or_default()), s(p, "/pull_request/html_url"))
        }
        "issues" => {
            let number = p.pointer("/issue/number").and_then(Value::as_i64).unwrap_or_default();
            (format!("issue #{number} {}", s(p, "/action").unwrap_or("updated")), s(p, "/issue/html_url"))
        }
        other => (format!("GitHub {other} event in {repo}"), s(p, "/repository/html_url")),
    };
    Description { summary, url: url.map(str::to_owned), chat: None }
}

fn slack(p: &Value) -> Description {
    let kind = s(p, "/event/type").unwrap_or("event");
    if kind == "message" && p.pointer("/event/subtype").is_none() {
        let user = s(p, "/event/user").unwrap_or("someone");
        let text = s(p, "/event/text").unwrap_or_default();
        let channel = s(p, "/event/channel").unwrap_or("?");
        return Description {
            summary: format!("Slack message from {user} in {channel}: {text}"),
            url: None,
            chat: Some((user.to_owned(), text.to_owned())),
        };
    }
    Description { summary: format!("Slack {kind} event"), url: None, chat: None }
}

fn trello(event: &str, p: &Value) -> Description {
    let card = s(p, "/action/data/card/name").unwrap_or("a card");
    let url = s(p, "/action/data/card/shortLink").map(|link| format!("https://trello.com/c/{link}"));
    let summary = match event {
        "updateCard" => match s(p, "/action/data/listAfter/name") {
            Some(list) => format!("card '{card}' moved to {list}"),
            None => format!("card '{card}' updated"),
        },
        "createCard" => format!("card '{card}' created"),
        "commentCard" => format!("comment on card '{card}'"),
        other => format!("Trello {other} on '{card}'"),
    };
    Description { summary, url, chat: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let text = match name {
            "github-push" => include_str!("fixtures/github-push.json"),
            "github-pull_request" => include_str!("fixtures/github-pull_request.json"),
            "github-issues" => include_str!("fixtures/github-issues.json"),
            "slack-message" => include_str!("fixtures/slack-message.json"),
            "trello-updateCard" => include_str!("fixtures/trello-updateCard.json"),
            other => panic!("no fixture {other}"),
        };
        serde_json::from_str(text).expect("fixture is JSON")
    }

    #[test]
    fn github_events_read_as_sentences() {
        let push = describe(Service::Github, "push", &fixture("github-push"));
        assert_eq!(push.summary, "alice pushed 3 commits to main");
        assert_eq!(
            push.url.as_deref(),
            Some("https://github.com/octo-org/teamflow/compare/6113728f27ae...59b20b8d5c6f")
        );
        let pr = describe(Service::Github, "pull_request", &fixture("github-pull_request"));
        assert_eq!(pr.summary, "PR #12 opened: Fix login");
        assert_eq!(pr.url.as_deref(), Some("https://github.com/octo-org/teamflow/pull/12"));
        let issue = describe(Service::Github, "issues", &fixture("github-issues"));
        assert_eq!(issue.summary, "issue #7 closed");
        assert_eq!(issue.url.as_deref(), Some("https://github.com/octo-org/teamflow/issues/7"));
        let mut merged = fixture("github-pull_request");
        merged["action"] = "closed".into();
        merged["pull_request"]["merged"] = true.into();
        assert_eq!(describe(Service::Github, "pull_request", &merged).summary, "PR #12 merged: Fix login");
        assert_eq!(
            describe(Service::Github, "star", &fixture("github-push")).summary,
            "GitHub star event in octo-org/teamflow"
        );
    }

    #[test]
    fn slack_messages_can_be_mirrored_to_chat() {
        let message = describe(Service::Slack, "event_callback", &fixture("slack-message"));
        assert_eq!(message.chat, Some(("U2147483697".into(), "Deploy is green, shipping at 3pm".into())));
        assert!(message.summary.contains("Deploy is green"));
    }

    #[test]
    fn trello_card_moves_name_the_list() {
        let moved = describe(Service::Trello, "updateCard", &fixture("trello-updateCard"));
        assert_eq!(moved.summary, "card 'Ship v1' moved to Done");
        assert_eq!(moved.url.as_deref(), Some("https://trello.com/c/Dz1qN6oQ"));
    }

    #[test]
    fn provider_text_is_sanitised_and_only_web_links_kept() {
        let mut message = fixture("slack-message");
        message["event"]["text"] = "ship\u{0007}it\u{202e}now\r\nnext line\u{0000}".into();
        message["event"]["user"] = "U1\nU2".into();
        let described = describe(Service::Slack, "event_callback", &message);
        assert_eq!(described.chat, Some(("U1 U2".into(), "shipitnow\nnext line".into())));
        assert!(!described.summary.chars().any(char::is_control), "{:?}", described.summary);

        let mut push = fixture("github-push");
        for bad in ["javascript:alert(1)", "file:///etc/passwd", "https://a.test/x y", "data:text/html,x"] {
            push["compare"] = bad.into();
            assert_eq!(describe(Service::Github, "push", &push).url, None, "{bad}");
        }
        push["compare"] = "HTTPS://github.com/a".into();
        assert!(describe(Service::Github, "push", &push).url.is_some());
        push["pusher"]["name"] = "x".repeat(10_000).into();
        assert_eq!(describe(Service::Github, "push", &push).summary.chars().count(), MAX_SUMMARY_CHARS);
    }

    #[test]
    fn odd_payloads_still_describe_without_panicking() {
        for service in Service::ALL {
            for payload in [Value::Null, serde_json::json!([]), serde_json::json!({"commits": "x"})] {
                assert!(!describe(service, "push", &payload).summary.is_empty());
            }
        }
    }
}
