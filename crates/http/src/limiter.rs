//! Throttling of failed logons (NIST SP 800-63B §5.2.2): consecutive failures for
//! one account name, or from one client address, first slow the answers down, then
//! refuse logons for a growing while, telling the client when to retry. Account
//! names are counted whether or not they exist, so the answers reveal nothing
//! about which accounts exist. Counters live in memory, per server process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits of the throttle.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Failures after which answers to this account or address are delayed.
    pub slow_after: u32,
    /// Failures after which logons are refused for a while.
    pub lock_after: u32,
    /// Failures of one account after which it is locked for `hard_lock` (NIST: at
    /// most 100 consecutive failures).
    pub hard_limit: u32,
    /// First refusal period; it doubles with each further failure.
    pub base_lock: Duration,
    /// Longest refusal period before the hard limit.
    pub max_lock: Duration,
    /// Refusal period once the hard limit is reached.
    pub hard_lock: Duration,
    /// Failures of one address are forgotten after this long without one.
    pub forget_after: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            slow_after: 3,
            lock_after: 10,
            hard_limit: 100,
            base_lock: Duration::from_secs(30),
            max_lock: Duration::from_secs(15 * 60),
            hard_lock: Duration::from_secs(60 * 60),
            forget_after: Duration::from_secs(60 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// What to do with a logon attempt before checking its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Refuse; retry after this long.
    Refuse(Duration),
}

/// The failed-logon throttle.
#[derive(Debug, Default)]
pub struct LogonLimiter {
    config: LimiterConfig,
    accounts: Mutex<HashMap<String, Record>>,
    addresses: Mutex<HashMap<IpAddr, Record>>,
}

impl LogonLimiter {
    /// A throttle with the given limits.
    pub fn new(config: LimiterConfig) -> LogonLimiter {
        LogonLimiter {
            config,
            ..LogonLimiter::default()
        }
    }

    /// Whether an attempt for `account` from `address` may proceed now.
    pub fn check(&self, account: &str, address: Option<IpAddr>, now: Instant) -> Verdict {
        let account_wait = lock_left(guard(&self.accounts).get(&account.to_lowercase()), now);
        let address_wait = address.and_then(|a| lock_left(guard(&self.addresses).get(&a), now));
        match account_wait.max(address_wait) {
            Some(wait) => Verdict::Refuse(wait),
            None => Verdict::Allow,
        }
    }

    /// Records a failed attempt; returns how long to delay the answer.
    pub fn failed(&self, account: &str, address: Option<IpAddr>, now: Instant) -> Duration {
        let account_failures = self.bump(
            &mut guard(&self.accounts),
            account.to_lowercase(),
            now,
            true,
        );
        let address_failures = match address {
            Some(a) => self.bump(&mut guard(&self.addresses), a, now, false),
            None => 0,
        };
        let worst = account_failures.max(address_failures);
        if worst > self.config.slow_after {
            Duration::from_millis(u64::from(worst - self.config.slow_after).min(8) * 250)
        } else {
            Duration::ZERO
        }
    }

    /// Records a successful logon: the account's and the address's counts restart.
    pub fn succeeded(&self, account: &str, address: Option<IpAddr>) {
        guard(&self.accounts).remove(&account.to_lowercase());
        if let Some(a) = address {
            guard(&self.addresses).remove(&a);
        }
    }

    fn bump<K: std::hash::Hash + Eq>(
        &self,
        map: &mut HashMap<K, Record>,
        key: K,
        now: Instant,
        account: bool,
    ) -> u32 {
        let forget = self.config.forget_after;
        map.retain(|_, r| {
            now.duration_since(r.last) < forget || r.locked_until.is_some_and(|u| u > now)
        });
        let record = map.entry(key).or_insert(Record {
            failures: 0,
            last: now,
            locked_until: None,
        });
        record.failures += 1;
        record.last = now;
        let c = &self.config;
        if account && record.failures >= c.hard_limit {
            record.locked_until = Some(now + c.hard_lock);
        } else if record.failures >= c.lock_after {
            let doublings = (record.failures - c.lock_after).min(16);
            let lock = c.base_lock.saturating_mul(1 << doublings).min(c.max_lock);
            record.locked_until = Some(now + lock);
        }
        record.failures
    }
}

/// Locks a counter map; a panic elsewhere while it was held leaves counts that
/// are still usable, so poisoning is ignored.
fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock_left(record: Option<&Record>, now: Instant) -> Option<Duration> {
    record
        .and_then(|r| r.locked_until)
        .filter(|u| *u > now)
        .map(|u| u - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LogonLimiter {
        LogonLimiter::new(LimiterConfig::default())
    }

    #[test]
    fn failures_slow_down_then_refuse_with_a_growing_wait() {
        let l = limiter();
        let t = Instant::now();
        for i in 1..10 {
            assert_eq!(l.check("Bob", None, t), Verdict::Allow, "attempt {i}");
            l.failed("bob", None, t);
        }
        assert!(
            l.failed("BOB", None, t) > Duration::ZERO,
            "answers are slowed"
        );
        let Verdict::Refuse(first) = l.check("bob", None, t) else {
            panic!("locked after 10 failures")
        };
        assert!(first <= Duration::from_secs(30));
        l.failed("bob", None, t + first);
        let Verdict::Refuse(second) = l.check("bob", None, t + first) else {
            panic!("still locked")
        };
        assert!(second > first);
        assert_eq!(
            l.check("alice", None, t),
            Verdict::Allow,
            "other accounts are not affected"
        );
    }

    #[test]
    fn a_hundred_failures_lock_the_account_for_an_hour() {
        let l = limiter();
        let t = Instant::now();
        for _ in 0..100 {
            l.failed("bob", None, t);
        }
        let Verdict::Refuse(wait) = l.check("bob", None, t) else {
            panic!("locked")
        };
        assert!(wait > Duration::from_secs(15 * 60));
    }

    #[test]
    fn one_address_trying_many_accounts_is_refused_too() {
        let l = limiter();
        let t = Instant::now();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for i in 0..10 {
            l.failed(&format!("user{i}"), Some(ip), t);
        }
        assert!(matches!(l.check("fresh", Some(ip), t), Verdict::Refuse(_)));
        assert_eq!(
            l.check("fresh", Some("192.0.2.8".parse().unwrap()), t),
            Verdict::Allow
        );
    }

    #[test]
    fn success_resets_the_count() {
        let l = limiter();
        let t = Instant::now();
        for _ in 0..9 {
            l.failed("bob", None, t);
        }
        l.succeeded("bob", None);
        l.failed("bob", None, t);
        assert_eq!(l.check("bob", None, t), Verdict::Allow);
    }
}
