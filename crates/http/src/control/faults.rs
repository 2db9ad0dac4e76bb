//! Fault rules (controls.md §3): answers a test makes the server give on cue — an
//! error status with EM's `Error` body, a delay, or a dropped connection — for
//! requests matched by method, path glob and account, with a probability and an
//! optional number of hits after which the rule is gone.

use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The longest delay a rule may ask for.
pub const MAX_DELAY_MS: u64 = 10 * 60 * 1000;

/// What a matching rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer this 4xx or 5xx with an EM `Error` body, and `Retry-After` when set.
    Status {
        /// The HTTP status, 400–599.
        status: u16,
        /// Seconds for `Retry-After`, if any.
        retry_after: Option<u64>,
    },
    /// Give the real answer, this many milliseconds late (picked in the range).
    Delay {
        /// The shortest delay.
        min_ms: u64,
        /// The longest delay (equal to `min_ms` for a fixed one).
        max_ms: u64,
    },
    /// Close the connection without an answer.
    Drop,
}

impl Action {
    fn to_json(&self) -> Value {
        match self {
            Action::Status {
                status,
                retry_after,
            } => {
                let mut m = Map::new();
                m.insert("status".into(), Value::from(*status));
                if let Some(r) = retry_after {
                    m.insert("retryAfter".into(), Value::from(*r));
                }
                Value::Object(m)
            }
            Action::Delay { min_ms, max_ms } if min_ms == max_ms => {
                serde_json::json!({ "delayMs": min_ms })
            }
            Action::Delay { min_ms, max_ms } => serde_json::json!({ "delayMs": [min_ms, max_ms] }),
            Action::Drop => serde_json::json!({ "drop": true }),
        }
    }

    /// The delay to wait, for a delay action.
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Action::Delay { min_ms, max_ms } => {
                let ms = if max_ms > min_ms {
                    rand::Rng::gen_range(&mut rand::thread_rng(), *min_ms..=*max_ms)
                } else {
                    *min_ms
                };
                Some(Duration::from_millis(ms))
            }
            _ => None,
        }
    }
}

/// A rule as given: what it matches and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Upper-case method, or any.
    pub method: Option<String>,
    /// Glob on the path (`*` is any run of characters), matched case-insensitively.
    pub path: String,
    /// An EM account or tenant name, or any (also requests without one).
    pub account: Option<String>,
    /// Chance that a matching request is acted on, 0..=1.
    pub probability: f64,
    /// Hits after which the rule is removed.
    pub times: Option<u64>,
    /// What a matching request gets.
    pub action: Action,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

fn bad(message: impl Into<String>) -> RuleError {
    RuleError(message.into())
}

impl Rule {
    /// Reads and checks a rule from its JSON document.
    pub fn from_json(value: &Value) -> Result<Rule, RuleError> {
        let Value::Object(m) = value else {
            return Err(bad("a fault rule must be a JSON object"));
        };
        for key in m.keys() {
            if !matches!(
                key.as_str(),
                "method" | "path" | "account" | "probability" | "times" | "action"
            ) {
                return Err(bad(format!("unknown field [{key}] in a fault rule")));
            }
        }
        let method = match m.get("method") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_token(s) => Some(s.to_ascii_uppercase()),
            Some(other) => {
                return Err(bad(format!("[method] must be an HTTP method, not {other}")))
            }
        };
        let path = match m.get("path") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 2048 => s.clone(),
            Some(Value::String(_)) => return Err(bad("[path] must be 1 to 2048 characters")),
            None => return Err(bad("a fault rule needs a [path] glob")),
            Some(other) => return Err(bad(format!("[path] must be a string, not {other}"))),
        };
        let account = match m.get("account") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(other) => return Err(bad(format!("[account] must be a name, not {other}"))),
        };
        let probability = match m.get("probability") {
            None | Some(Value::Null) => 1.0,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(p) if (0.0..=1.0).contains(&p) => p,
                _ => {
                    return Err(bad(format!(
                        "[probability] must be between 0 and 1, not {n}"
                    )))
                }
            },
            Some(other) => return Err(bad(format!("[probability] must be a number, not {other}"))),
        };
        let times = match m.get("times") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(t) if t >= 1 => Some(t),
                _ => {
                    return Err(bad(format!(
                        "[times] must be a whole number of at least 1, not {n}"
                    )))
                }
            },
            Some(other) => return Err(bad(format!("[times] must be a number, not {other}"))),
        };
        let action = match m.get("action") {
            Some(a) => action_from_json(a)?,
            None => return Err(bad("a fault rule needs an [action]")),
        };
        Ok(Rule {
            method,
            path,
            account,
            probability,
            times,
            action,
        })
    }

    /// Whether the rule applies to a request (its probability aside).
    pub fn matches(&self, method: &str, path: &str, account: Option<&str>) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .account
                .as_deref()
                .is_none_or(|a| account.is_some_and(|b| a.eq_ignore_ascii_case(b)))
            && glob_matches(self.path.as_bytes(), path.as_bytes())
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn action_from_json(value: &Value) -> Result<Action, RuleError> {
    let Value::Object(m) = value else {
        return Err(bad("[action] must be a JSON object"));
    };
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    let number = |key: &str| -> Result<u64, RuleError> {
        m.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("[{key}] must be a whole number")))
    };
    match keys.as_slice() {
        ["status"] | ["status", "retryAfter"] | ["retryAfter", "status"] => {
            let status = number("status")?;
            if !(400..=599).contains(&status) {
                return Err(bad(format!(
                    "[status] must be a 4xx or 5xx status, not {status}"
                )));
            }
            let retry_after = match m.get("retryAfter") {
                None | Some(Value::Null) => None,
                Some(_) => Some(number("retryAfter")?),
            };
            Ok(Action::Status {
                status: status as u16,
                retry_after,
            })
        }
        ["delayMs"] => {
            let (min_ms, max_ms) = match &m["delayMs"] {
                Value::Number(n) => {
                    let ms = n
                        .as_u64()
                        .ok_or_else(|| bad("[delayMs] must be a whole number of milliseconds"))?;
                    (ms, ms)
                }
                Value::Array(a) if a.len() == 2 => match (a[0].as_u64(), a[1].as_u64()) {
                    (Some(lo), Some(hi)) if lo <= hi => (lo, hi),
                    _ => return Err(bad("[delayMs] as a range must be [min, max] with min <= max")),
                },
                _ => return Err(bad("[delayMs] must be a number or a [min, max] range")),
            };
            if max_ms > MAX_DELAY_MS {
                return Err(bad(format!("[delayMs] must not be above {MAX_DELAY_MS}")));
            }
            Ok(Action::Delay { min_ms, max_ms })
        }
        ["drop"] if m["drop"] == Value::Bool(true) => Ok(Action::Drop),
        _ => Err(bad(
            "[action] must be one of {\"status\": <4xx|5xx>, \"retryAfter\": <seconds>}, {\"delayMs\": <n> or [<min>, <max>]}, {\"drop\": true}",
        )),
    }
}

/// Whether `text` matches `glob`, where `*` matches any run of bytes (ASCII
/// letters compared without case). Linear in practice: on a mismatch the last
/// star takes one more byte.
pub fn glob_matches(glob: &[u8], text: &[u8]) -> bool {
    let (mut g, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && glob[g] == b'*' {
            star = Some((g, t));
            g += 1;
        } else if g < glob.len() && glob[g].eq_ignore_ascii_case(&text[t]) {
            g += 1;
            t += 1;
        } else if let Some((sg, st)) = star {
            g = sg + 1;
            t = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&b| b == b'*')
}

/// A rule as the API shows it: with its id and the hits so far.
#[derive(Debug, Clone)]
struct Kept {
    id: u64,
    rule: Rule,
    hits: u64,
}

impl Kept {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::from(self.id));
        if let Some(method) = &self.rule.method {
            m.insert("method".into(), Value::from(method.clone()));
        }
        m.insert("path".into(), Value::from(self.rule.path.clone()));
        if let Some(account) = &self.rule.account {
            m.insert("account".into(), Value::from(account.clone()));
        }
        m.insert("probability".into(), Value::from(self.rule.probability));
        if let Some(times) = self.rule.times {
            m.insert("times".into(), Value::from(times));
        }
        m.insert("action".into(), self.rule.action.to_json());
        m.insert("hits".into(), Value::from(self.hits));
        Value::Object(m)
    }
}

/// The rules in force, in the order they were added.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<(u64, Vec<Kept>)>,
    /// Whether any rule is in force: requests skip the lock while none is.
    any: AtomicBool,
}

/// A rule's document as the API answers it.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Shown(Value);

impl Faults {
    /// Adds a rule and answers it with its id.
    pub fn add(&self, rule: Rule) -> Shown {
        let mut guard = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.0 += 1;
        let kept = Kept {
            id: guard.0,
            rule,
            hits: 0,
        };
        let shown = Shown(kept.to_json());
        guard.1.push(kept);
        self.any.store(true, Ordering::Release);
        shown
    }

    /// The rules in force.
    pub fn list(&self) -> Vec<Shown> {
        let guard = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.1.iter().map(|k| Shown(k.to_json())).collect()
    }

    /// Whether any rule is in force (one atomic load; callers skip the rest).
    pub fn active(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Removes one rule; false when there is none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut guard = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = guard.1.len();
        guard.1.retain(|k| k.id != id);
        self.any.store(!guard.1.is_empty(), Ordering::Release);
        guard.1.len() != before
    }

    /// Removes every rule (ids keep counting up).
    pub fn clear(&self) {
        let mut guard = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.1.clear();
        self.any.store(false, Ordering::Release);
    }

    /// The action of the first rule that matches and passes its probability, if
    /// any; counts the hit, and removes a rule whose `times` are used up.
    pub fn decide(&self, method: &str, path: &str, account: Option<&str>) -> Option<Action> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut guard = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rules = &mut guard.1;
        let at = rules.iter().position(|k| {
            k.rule.matches(method, path, account)
                && (k.rule.probability >= 1.0 || rand::random::<f64>() < k.rule.probability)
        })?;
        let kept = &mut rules[at];
        kept.hits += 1;
        let action = kept.rule.action.clone();
        if kept.rule.times.is_some_and(|t| kept.hits >= t) {
            rules.remove(at);
        }
        self.any.store(!rules.is_empty(), Ordering::Release);
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn globs_match_runs_of_any_characters_without_case() {
        assert!(glob_matches(b"/api/query*", b"/api/query"));
        assert!(glob_matches(b"/api/query*", b"/api/querysvc"));
        assert!(glob_matches(
            b"/API/*/failoversessions",
            b"/api/cloud/failoversessions"
        ));
        assert!(glob_matches(b"*", b""));
        assert!(glob_matches(
            b"*sessions*",
            b"/api/cloud/failoversessions/abc"
        ));
        assert!(!glob_matches(b"/api/query", b"/api/query/x"));
        assert!(!glob_matches(b"/api/*/x", b"/api/cloud/y"));
        assert!(glob_matches(b"a*b*c", b"aXbYbZc"));
        assert!(!glob_matches(b"a*b*c", b"aXbYbZ"));
    }

    proptest! {
        /// The matcher agrees with a regular expression of the same glob.
        #[test]
        fn glob_matching_agrees_with_a_plain_backtracking_matcher(
            glob in "[ab*/]{0,8}",
            text in "[abAB/]{0,12}",
        ) {
            fn slow(g: &[u8], t: &[u8]) -> bool {
                match (g.first(), t.first()) {
                    (None, None) => true,
                    (Some(b'*'), _) => slow(&g[1..], t) || (!t.is_empty() && slow(g, &t[1..])),
                    (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => slow(&g[1..], &t[1..]),
                    _ => false,
                }
            }
            prop_assert_eq!(glob_matches(glob.as_bytes(), text.as_bytes()), slow(glob.as_bytes(), text.as_bytes()));
        }

        /// Reading any JSON value as a rule never panics.
        #[test]
        fn reading_rules_never_panics(text in "\\PC{0,80}") {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                let _ = Rule::from_json(&v);
            }
        }
    }

    #[test]
    fn rules_are_read_and_checked() {
        let rule = Rule::from_json(&json!({
            "method": "get", "path": "/api/query*", "account": "Administrator",
            "probability": 1.0, "times": 3, "action": {"status": 503, "retryAfter": 5}
        }))
        .unwrap();
        assert_eq!(rule.method.as_deref(), Some("GET"));
        assert_eq!(
            rule.action,
            Action::Status {
                status: 503,
                retry_after: Some(5)
            }
        );
        let delay =
            Rule::from_json(&json!({"path": "*", "action": {"delayMs": [10, 20]}})).unwrap();
        assert_eq!(
            delay.action,
            Action::Delay {
                min_ms: 10,
                max_ms: 20
            }
        );
        assert_eq!(delay.probability, 1.0);
        let drop = Rule::from_json(&json!({"path": "*", "action": {"drop": true}})).unwrap();
        assert_eq!(drop.action, Action::Drop);
        for (bad, says) in [
            (json!({"action": {"drop": true}}), "[path]"),
            (json!({"path": "*"}), "[action]"),
            (
                json!({"path": "*", "action": {"status": 200}}),
                "4xx or 5xx",
            ),
            (
                json!({"path": "*", "action": {"drop": false}}),
                "[action] must be one of",
            ),
            (
                json!({"path": "*", "action": {"delayMs": [5, 1]}}),
                "min <= max",
            ),
            (
                json!({"path": "*", "action": {"delayMs": 600001}}),
                "not be above",
            ),
            (
                json!({"path": "*", "probability": 2, "action": {"drop": true}}),
                "between 0 and 1",
            ),
            (
                json!({"path": "*", "times": 0, "action": {"drop": true}}),
                "at least 1",
            ),
            (
                json!({"path": "*", "colour": 1, "action": {"drop": true}}),
                "unknown field [colour]",
            ),
            (
                json!({"path": "*", "method": "G ET", "action": {"drop": true}}),
                "[method]",
            ),
            (json!([1]), "JSON object"),
        ] {
            let e = Rule::from_json(&bad).unwrap_err();
            assert!(e.0.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_first_matching_rule_acts_and_expires_after_its_times() {
        let faults = Faults::default();
        assert_eq!(faults.decide("GET", "/api", None), None);
        let limited = Rule::from_json(&json!({
            "method": "GET", "path": "/api/query*", "times": 2, "action": {"status": 429}
        }))
        .unwrap();
        let everything =
            Rule::from_json(&json!({"path": "*", "account": "bob", "action": {"status": 500}}))
                .unwrap();
        faults.add(limited);
        let second = faults.add(everything);
        let status = |s| {
            Some(Action::Status {
                status: s,
                retry_after: None,
            })
        };
        assert_eq!(faults.decide("POST", "/api/query", None), None);
        assert_eq!(faults.decide("GET", "/api/query", Some("Bob")), status(429));
        assert_eq!(faults.decide("GET", "/api/query", Some("bob")), status(429));
        // Used up: the next rule acts.
        assert_eq!(faults.decide("GET", "/api/query", Some("bob")), status(500));
        assert_eq!(faults.decide("GET", "/api/query", None), None);
        assert_eq!(faults.list().len(), 1);
        assert_eq!(faults.list()[0].0["hits"], 1);
        assert!(faults.remove(second.0["id"].as_u64().unwrap()));
        assert!(!faults.remove(99));
        assert_eq!(faults.decide("GET", "/x", Some("bob")), None);
    }

    #[test]
    fn a_rule_that_never_fires_by_probability_stays() {
        let faults = Faults::default();
        faults.add(
            Rule::from_json(
                &json!({"path": "*", "probability": 0, "times": 1, "action": {"drop": true}}),
            )
            .unwrap(),
        );
        for _ in 0..100 {
            assert_eq!(faults.decide("GET", "/api", None), None);
        }
        assert_eq!(faults.list().len(), 1);
    }
}
