//! How many threads a generation's decoding steps use, chosen from the time they take.
//!
//! Two threads decode ~1.6–1.7× faster than one on a quiet two-core machine, but with
//! one other busy process beside the page they decoded at about half the speed of one
//! thread (docs/BENCHMARKS.md, 2026-12-02): three runnable threads share two cores, and
//! each time the OS stops one of the team inside its piece, the other waits out the time
//! slice. Guessing the machine's load from the team's own signals (helpers that miss jobs,
//! long waits) misfired on the quiet machine (same section). So this asks the objective
//! itself: the steps alternate now and then between all the pool's threads and one, each
//! for a short window, and the faster keeps the steps until the next probe. A probe that
//! confirms the choice doubles the time to the next one (the cost of probing the slower
//! arm falls to ~1% of a long generation); one that overturns it starts over with short
//! periods. The choice persists across generations, as the machine's load does.
//!
//! Pure bookkeeping, fed the measured times: `parallel::decode_step` does the timing.

/// Steps in a probe window (and in the window of recent steps it is compared with).
const WINDOW: usize = 4;
/// Steps before the first probe, and after a probe that changed the choice.
const MIN_PERIOD: usize = 16;
/// The longest run of steps between probes.
const MAX_PERIOD: usize = 256;
/// The other arm must be this much faster to take over (measurement noise).
const MARGIN: f64 = 0.97;

/// The two arms: all the pool's threads, or the caller alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arm {
    Pool,
    One,
}

impl Arm {
    fn other(self) -> Arm {
        match self {
            Arm::Pool => Arm::One,
            Arm::One => Arm::Pool,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StepThreads {
    /// The arm steps take between probes.
    current: Arm,
    /// The current arm's latest step times (ms), at most `WINDOW`.
    recent: Vec<f64>,
    /// The probe in progress: the other arm's step times so far.
    probe: Option<Vec<f64>>,
    /// Steps of the current arm left before the next probe.
    until_probe: usize,
    /// The period the next confirming probe doubles.
    period: usize,
    /// Steps recorded on each arm: (pool, one).
    taken: (u64, u64),
}

impl Default for StepThreads {
    fn default() -> Self {
        StepThreads { current: Arm::Pool, recent: Vec::new(), probe: None, until_probe: MIN_PERIOD, period: MIN_PERIOD, taken: (0, 0) }
    }
}

impl StepThreads {
    /// The arm the next step should take.
    pub fn next(&self) -> Arm {
        if self.probe.is_some() {
            self.current.other()
        } else {
            self.current
        }
    }

    /// Records the time (ms) of a step that took `arm` (as `next` said).
    pub fn record(&mut self, arm: Arm, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        match arm {
            Arm::Pool => self.taken.0 += 1,
            Arm::One => self.taken.1 += 1,
        }
        if let Some(probe) = &mut self.probe {
            if arm == self.current {
                return; // not the probe's arm: `next` was not followed
            }
            probe.push(ms);
            if probe.len() < WINDOW {
                return;
            }
            let theirs = self.probe.take().unwrap_or_default();
            if mean(&theirs) < mean(&self.recent) * MARGIN {
                self.current = arm;
                self.recent = theirs;
                self.period = MIN_PERIOD;
            } else {
                self.period = (self.period * 2).min(MAX_PERIOD);
            }
            self.until_probe = self.period;
            return;
        }
        if arm != self.current {
            return;
        }
        self.recent.push(ms);
        if self.recent.len() > WINDOW {
            self.recent.remove(0);
        }
        self.until_probe = self.until_probe.saturating_sub(1);
        if self.until_probe == 0 && self.recent.len() == WINDOW {
            self.probe = Some(Vec::new());
        }
    }

    /// The arm steps take between probes (for reports and tests).
    pub fn current(&self) -> Arm {
        self.current
    }

    /// Steps recorded on (all the pool's threads, one thread) so far.
    pub fn taken(&self) -> (u64, u64) {
        self.taken
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` steps whose time depends on the arm (and the step), returns how many
    /// took each arm.
    fn run(s: &mut StepThreads, steps: usize, time: impl Fn(Arm, usize) -> f64) -> (usize, usize) {
        let (mut pool, mut one) = (0, 0);
        for i in 0..steps {
            let arm = s.next();
            match arm {
                Arm::Pool => pool += 1,
                Arm::One => one += 1,
            }
            s.record(arm, time(arm, i));
        }
        (pool, one)
    }

    #[test]
    fn a_quiet_machine_keeps_the_pool_and_probes_ever_more_rarely() {
        let mut s = StepThreads::default();
        let (pool, one) = run(&mut s, 2000, |arm, _| if arm == Arm::Pool { 9.0 } else { 15.0 });
        assert_eq!(s.current(), Arm::Pool);
        // Probes after 16, 32, 64, 128, 256, 256… steps: 4 one-thread steps each.
        assert!(one <= 4 * 11, "{one} of {} steps on one thread", pool + one);
    }

    #[test]
    fn a_busy_machine_moves_to_one_thread_and_back_when_it_quiets() {
        let mut s = StepThreads::default();
        let busy = |arm, _| if arm == Arm::Pool { 27.0 } else { 15.0 };
        let (_, one) = run(&mut s, 200, busy);
        assert_eq!(s.current(), Arm::One);
        assert!(one > 150, "{one} of 200 steps on one thread");
        // The busy process ends: within a few probe periods the pool is back.
        run(&mut s, 600, |arm, _| if arm == Arm::Pool { 9.0 } else { 15.0 });
        assert_eq!(s.current(), Arm::Pool);
    }

    #[test]
    fn noise_within_the_margin_does_not_switch_and_bad_times_are_ignored() {
        let mut s = StepThreads::default();
        run(&mut s, 500, |arm, i| if arm == Arm::Pool { 10.0 + (i % 3) as f64 * 0.1 } else { 9.9 });
        assert_eq!(s.current(), Arm::Pool);
        for _ in 0..100 {
            let arm = s.next();
            s.record(arm, f64::NAN);
            s.record(arm, -1.0);
        }
        assert_eq!(s.current(), Arm::Pool);
    }
}
