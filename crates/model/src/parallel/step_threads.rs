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
//! confirms the choice quadruples the time to the next one; one that overturns it starts
//! over with short periods. The choice persists across generations, as the machine's load does.
//!
//! Probing is not free: each probe of one thread costs four steps at ~1.75× a pool step's
//! time. Periods that doubled from 16 steps to at most 256 probed 5 times in a page's
//! first 700 steps (the benchmark's threaded page), and a generation of 48 tokens with a
//! probe in it ran ~6% slower than one without (2026-12-03). And windows compared by their
//! means let a single stalled step (the OS taking a core for a time slice: 24 and 29 ms
//! among 8.5 ms steps) overturn the pool. So windows are compared by their medians,
//! periods grow fourfold, and on the pool up to 2048 steps: a machine that gets busy is
//! noticed sooner another way, when the median of the pool's last eight steps passes the
//! time one thread took at the last probe (eight, not four, so that a burst of noise does
//! not: one such, in the same runs, moved 23 steps of a generation to one thread).
//! On one thread no step times tell that the machine has quieted, so there the
//! period stays at most 256 steps.
//!
//! Pure bookkeeping, fed the measured times: `parallel::decode_step` does the timing.

/// Steps in a probe window.
const WINDOW: usize = 4;
/// Recent steps of the current arm a probe is compared with.
const RECENT: usize = 2 * WINDOW;
/// Steps before the first probe, and after a probe that changed the choice; also the
/// fewest steps between two probes.
const MIN_PERIOD: usize = 16;
/// The longest run of steps between probes on the pool, which probes early when its
/// steps get slower than one thread's last time.
const MAX_PERIOD_POOL: usize = 2048;
/// The longest run of steps between probes on one thread.
const MAX_PERIOD_ONE: usize = 256;
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

    fn max_period(self) -> usize {
        match self {
            Arm::Pool => MAX_PERIOD_POOL,
            Arm::One => MAX_PERIOD_ONE,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StepThreads {
    /// The arm steps take between probes.
    current: Arm,
    /// The current arm's latest step times (ms), at most `RECENT`.
    recent: Vec<f64>,
    /// The probe in progress: the other arm's step times so far.
    probe: Option<Vec<f64>>,
    /// The other arm's median step time (ms) at the last probe.
    other: Option<f64>,
    /// Steps of the current arm since the last probe (the next is due after `period`).
    since_probe: usize,
    /// Steps between probes; a confirming probe quadruples it.
    period: usize,
    /// Steps recorded on each arm: (pool, one).
    taken: (u64, u64),
}

impl Default for StepThreads {
    fn default() -> Self {
        StepThreads { current: Arm::Pool, recent: Vec::new(), probe: None, other: None, since_probe: 0, period: MIN_PERIOD, taken: (0, 0) }
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
            let (mine, their) = (median(&self.recent), median(&theirs));
            if their < mine * MARGIN {
                self.current = arm;
                self.recent = theirs;
                self.other = Some(mine);
                self.period = MIN_PERIOD;
            } else {
                self.other = Some(their);
                self.period = (self.period * 4).min(self.current.max_period());
            }
            self.since_probe = 0;
            return;
        }
        if arm != self.current {
            return;
        }
        self.recent.push(ms);
        if self.recent.len() > RECENT {
            self.recent.remove(0);
        }
        self.since_probe += 1;
        if self.recent.len() < WINDOW {
            return;
        }
        // The other arm, at its last probe, was faster than this one's recent steps.
        let overtaken = self.recent.len() == RECENT && self.other.is_some_and(|o| o < median(&self.recent) * MARGIN);
        if self.since_probe >= self.period || overtaken && self.since_probe >= MIN_PERIOD {
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

/// The middle of `xs` (the mean of the two middles for an even count): one stalled step
/// in a window does not move it.
fn median(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
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
        // Probes after 16, 64, 256 and 1024 steps: 4 one-thread steps each.
        assert!(one <= 4 * 4, "{one} of {} steps on one thread", pool + one);
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

    #[test]
    fn one_stalled_step_in_a_window_does_not_overturn_the_pool() {
        let mut s = StepThreads::default();
        // Every fourth step waits out a 30 ms time slice: a window's mean, 16.4 ms, is
        // slower than one thread; its median is not.
        run(&mut s, 3000, |arm, i| match arm {
            Arm::Pool if i % 4 == 1 => 40.0,
            Arm::Pool => 8.5,
            Arm::One => 15.0,
        });
        assert_eq!(s.current(), Arm::Pool);
        assert!(s.taken().1 <= 4 * 8, "{:?}", s.taken());
    }

    #[test]
    fn a_machine_that_gets_busy_is_noticed_within_a_few_windows_not_a_period() {
        let mut s = StepThreads::default();
        run(&mut s, 5000, |arm, _| if arm == Arm::Pool { 9.0 } else { 15.0 });
        assert_eq!(s.current(), Arm::Pool);
        let mut steps = 0;
        while s.current() == Arm::Pool {
            steps += 1;
            assert!(steps <= MIN_PERIOD + 2 * WINDOW, "still on the pool after {steps} busy steps");
            let arm = s.next();
            s.record(arm, if arm == Arm::Pool { 27.0 } else { 15.0 });
        }
        // A burst of three slow steps among eight: no probe.
        let mut s = StepThreads::default();
        run(&mut s, 5000, |arm, _| if arm == Arm::Pool { 9.0 } else { 15.0 });
        let before = s.taken().1;
        run(&mut s, 100, |arm, i| {
            if arm == Arm::Pool && (40..43).contains(&i) {
                27.0
            } else if arm == Arm::Pool {
                9.0
            } else {
                15.0
            }
        });
        assert_eq!(s.taken().1, before, "a probe after a burst");
        // Slower context (both arms), the pool still ahead: probes, but keeps the pool.
        let mut s = StepThreads::default();
        run(&mut s, 5000, |arm, _| if arm == Arm::Pool { 9.0 } else { 15.0 });
        let before = s.taken().1;
        run(&mut s, 1000, |arm, i| (if arm == Arm::Pool { 9.0 } else { 15.0 }) * (1.0 + i as f64 / 500.0));
        assert_eq!(s.current(), Arm::Pool);
        assert!(s.taken().1 - before <= 4 * 8, "{} probe steps", s.taken().1 - before);
    }
}
