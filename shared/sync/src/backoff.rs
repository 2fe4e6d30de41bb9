//! One retry policy for every loop that waits before trying again (redialing the relay, a room socket,
//! redelivering the outbox, starting peer-to-peer, a failed storage write): exponential delays with jitter
//! from `backon`, capped, and reset after a success.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Delays growing from `first` to at most `longest` (doubling, plus up to one more delay of jitter so a
/// relay that comes back is not hit by every client at once). It never runs out.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
    longest: Duration,
}

impl Backoff {
    pub fn new(first: Duration, longest: Duration) -> Self {
        let builder = ExponentialBuilder::default()
            .with_min_delay(first)
            .with_max_delay(longest)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        Backoff { delays: builder.build(), builder, longest }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.longest)
    }

    /// Waits the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }

    /// Starts again from the first delay (after a success).
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_never_run_out_and_reset() {
        let (first, longest) = (Duration::from_millis(100), Duration::from_secs(1));
        let mut backoff = Backoff::new(first, longest);
        let delays: Vec<Duration> = (0..20).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= first && delays[0] <= first * 2, "first delay {:?}", delays[0]);
        // Jitter adds at most one more delay on top of the capped one.
        assert!(delays.iter().all(|d| *d <= longest * 2), "{delays:?}");
        assert!(delays[19] >= longest, "reaches the cap: {delays:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= first * 2, "reset starts over");
    }
}
