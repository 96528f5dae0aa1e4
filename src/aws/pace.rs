//! Rate bounds kept on our side, so that a large run is not a storm of throttled calls and
//! retries: a sliding window (Parameter Store's `max-requests-per-second`, Secrets Manager's
//! list and batch calls) and token buckets for the ECS writes, at the rates ECS documents.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::debug;

/// Waits until a request fits in the sliding window: at most `count` sent in any `window`.
pub async fn slot(sent: &tokio::sync::Mutex<VecDeque<Instant>>, count: usize, window: Duration) {
    loop {
        let wait = {
            let mut sent = sent.lock().await;
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                sent.pop_front();
            }
            if sent.len() < count {
                sent.push_back(now);
                return;
            }
            window.saturating_sub(now.duration_since(*sent.front().expect("the window is full")))
        };
        tokio::time::sleep(wait).await;
    }
}

/// A token bucket as ECS keeps one per group of actions, account and Region: it holds up to
/// `capacity` tokens (the burst), gains `per_second` a second (the sustained rate), and each
/// request takes one. A request that finds the bucket empty reserves the next token and waits
/// for it, so waiting requests go out in the order they asked, one refill apart.
pub struct Bucket {
    /// What it paces, for the log.
    what: &'static str,
    capacity: f64,
    per_second: f64,
    /// Tokens (negative: reserved ahead) as of an instant; `None` until the first request (a
    /// full bucket).
    state: Mutex<Option<(f64, Instant)>>,
}

impl Bucket {
    pub const fn new(what: &'static str, capacity: u32, per_second: u32) -> Self {
        Self {
            what,
            capacity: capacity as f64,
            per_second: per_second as f64,
            state: Mutex::new(None),
        }
    }

    /// How long a request made `now` waits for its token (taking it).
    fn reserve(&self, now: Instant) -> Duration {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tokens = match *state {
            None => self.capacity,
            Some((tokens, at)) => (tokens
                + now.saturating_duration_since(at).as_secs_f64() * self.per_second)
                .min(self.capacity),
        };
        let left = tokens - 1.0;
        *state = Some((left, now));
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.per_second)
        }
    }

    /// Waits for a token.
    pub async fn take(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            debug!(
                "{} waits {} ms for ECS's rate ({} at once, then {} a second)",
                self.what,
                wait.as_millis(),
                self.capacity,
                self.per_second
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// `RegisterTaskDefinition` and `DeregisterTaskDefinition`: ECS's "task definition modify"
/// actions, a bucket of 20 refilled at 1 a second per account and Region (BENCHMARKS.md cites
/// the sources).
pub static TASK_DEFINITION_WRITES: Bucket = Bucket::new("RegisterTaskDefinition", 20, 1);

/// `UpdateService`: ECS's "service modify" actions, a bucket of 50 refilled at 5 a second.
pub static SERVICE_WRITES: Bucket = Bucket::new("UpdateService", 50, 5);

/// A random duration between half and all of `d`.
pub fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    #[allow(clippy::cast_precision_loss)]
    let fraction = (random % 1000) as f64 / 2000.0;
    d.mul_f64(0.5 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_its_burst_through_then_one_a_refill_in_order() {
        let bucket = Bucket::new("test", 20, 1);
        let start = Instant::now();
        for _ in 0..20 {
            assert_eq!(bucket.reserve(start), Duration::ZERO);
        }
        // The 21st and 22nd, asked at once, wait one and two refills.
        assert_eq!(bucket.reserve(start), Duration::from_secs(1));
        assert_eq!(bucket.reserve(start), Duration::from_secs(2));
        // Three seconds on, the two reserved tokens have come and one more: no wait.
        assert_eq!(
            bucket.reserve(start + Duration::from_secs(3)),
            Duration::ZERO
        );
        assert_eq!(
            bucket.reserve(start + Duration::from_secs(3)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn an_idle_bucket_fills_up_to_its_capacity_and_no_further() {
        let bucket = Bucket::new("test", 50, 5);
        let start = Instant::now();
        for _ in 0..50 {
            bucket.reserve(start);
        }
        // An hour idle refills 50 tokens, not 18,000.
        let later = start + Duration::from_hours(1);
        for _ in 0..50 {
            assert_eq!(bucket.reserve(later), Duration::ZERO);
        }
        assert_eq!(bucket.reserve(later), Duration::from_millis(200));
    }
}
