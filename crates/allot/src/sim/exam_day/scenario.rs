//! A school day of exams, generated from a seed.
//!
//! The day runs from 00:00 UTC, so the morning's exams have the night to
//! prepare. Exams start on 15-minute boundaries, last 1 to 3 hours and lie
//! between 08:00 and 17:00, in a morning session (starts 08:00 to 11:00)
//! and an afternoon one (starts from 12:00), so they overlap. Sizes are
//! mixed: most have 20 to 200 students, some a few hundred, a few up to
//! the maximum. A few exams are late additions, known only some hours
//! before their start; one exam known from the start is resized a few
//! hours before it begins; one exam is cancelled mid-provisioning, once a
//! third of its VMs were started.
//!
//! Everything is drawn from one `StdRng::seed_from_u64(seed)`, ids
//! included (the planner breaks ties by exam id), so a seed gives the same
//! day and, through the rest of the simulation, the same run.

use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// The simulated day: 2030-06-03, a Monday, from 00:00 UTC.
pub const DAY: Timestamp = Timestamp::constant(1_906_675_200, 0);

/// Exams lie between these times of day (minutes after 00:00).
pub const FIRST_START_MINUTE: i64 = 8 * 60;
pub const LAST_END_MINUTE: i64 = 17 * 60;
/// The fewest exams a day can have: one cancelled, one late, one plain.
pub const MIN_EXAMS: usize = 3;
/// The most, so that a day stays a day.
pub const MAX_EXAMS: usize = 500;

const SUBJECTS: [&str; 16] = [
    "Mathematics",
    "Physics",
    "Chemistry",
    "Biology",
    "History",
    "Geography",
    "Economics",
    "Literature",
    "Philosophy",
    "Computer Science",
    "Statistics",
    "Law",
    "Psychology",
    "Linguistics",
    "Music Theory",
    "Accounting",
];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioConfig {
    /// `MIN_EXAMS..=MAX_EXAMS`.
    pub exams: usize,
    pub seed: u64,
    /// The largest exam possible; at least 1.
    pub max_students: u32,
}

/// One exam of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioExam {
    pub id: Uuid,
    pub name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Students when it is added (see [`Scenario::resize`] for a change).
    pub students: u32,
    /// When it is written to the exams table: the day's start, or later for
    /// a late addition.
    pub known_at: Timestamp,
}

impl ScenarioExam {
    pub fn is_late(&self, day: Timestamp) -> bool {
        self.known_at > day
    }
}

/// The one cancellation: the exam is deleted at the first instant the
/// planner counts `after_started` of its VMs started (pending or ready), or
/// at its start if that never comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancellation {
    /// Index in [`Scenario::exams`].
    pub exam: usize,
    pub after_started: u32,
}

/// The one resize: the exam's students become `students` at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    pub exam: usize,
    pub at: Timestamp,
    pub students: u32,
}

/// A generated day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// 00:00 of the day: the simulation starts here.
    pub day: Timestamp,
    /// By start, then end, then name.
    pub exams: Vec<ScenarioExam>,
    pub cancellation: Cancellation,
    pub resize: Option<Resize>,
}

impl Scenario {
    /// The students an exam has in the end (after the resize, if any).
    pub fn final_students(&self, exam: usize) -> u32 {
        match self.resize {
            Some(r) if r.exam == exam => r.students,
            _ => self.exams.get(exam).map_or(0, |e| e.students),
        }
    }

    /// When the last exam ends.
    pub fn last_end(&self) -> Timestamp {
        self.exams.iter().map(|e| e.end).max().unwrap_or(self.day)
    }
}

/// Why a configuration cannot make a day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "--exams must be {MIN_EXAMS} to {MAX_EXAMS} (one is cancelled, one added late), not {0}"
    )]
    Exams(usize),
    #[error("--max-students must be at least 1")]
    MaxStudents,
}

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// A size: most 20 to 200, some up to 600, a few up to `max`; never above
/// `max`.
fn size(rng: &mut StdRng, max: u32) -> u32 {
    let draw = rng.random::<f64>();
    let (lo, hi) = if draw < 0.70 {
        (20, 200)
    } else if draw < 0.92 {
        (201, 600)
    } else {
        (601, max)
    };
    let hi = hi.min(max);
    let lo = lo.min(hi);
    rng.random_range(lo..=hi).max(1)
}

/// Generates the day for `config`.
pub fn generate(config: &ScenarioConfig) -> Result<Scenario, ScenarioError> {
    if !(MIN_EXAMS..=MAX_EXAMS).contains(&config.exams) {
        return Err(ScenarioError::Exams(config.exams));
    }
    if config.max_students == 0 {
        return Err(ScenarioError::MaxStudents);
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let day = DAY;
    let mut exams: Vec<ScenarioExam> = (0..config.exams)
        .map(|_| {
            let duration = 60 + 15 * rng.random_range(0..=8_i64);
            let morning = rng.random_bool(0.6);
            let (first, last) = if morning {
                (FIRST_START_MINUTE, 11 * 60)
            } else {
                (12 * 60, LAST_END_MINUTE - duration)
            };
            let start = first + 15 * rng.random_range(0..=(last - first) / 15);
            let students = size(&mut rng, config.max_students);
            let subject = SUBJECTS[rng.random_range(0..SUBJECTS.len())];
            ScenarioExam {
                id: uuid::Builder::from_random_bytes(rng.random()).into_uuid(),
                name: subject.to_string(),
                start: day + minutes(start),
                end: day + minutes(start + duration),
                students,
                known_at: day,
            }
        })
        .collect();
    exams.sort_by_key(|a| (a.start, a.end, a.id));
    for (i, exam) in exams.iter_mut().enumerate() {
        exam.name = format!("{} {}", exam.name, 101 + i);
    }

    // Late additions: about one in seven, among the exams starting from
    // 10:00 (so that they come during the day, some hours ahead).
    let mut candidates: Vec<usize> = (0..exams.len())
        .filter(|&i| exams[i].start >= day + minutes(10 * 60))
        .collect();
    if candidates.is_empty() {
        candidates = (0..exams.len()).collect();
    }
    let late = (config.exams / 7)
        .max(1)
        .min(candidates.len().saturating_sub(1).max(1));
    for _ in 0..late {
        let pick = candidates.swap_remove(rng.random_range(0..candidates.len()));
        let exam = &mut exams[pick];
        let ahead = minutes(rng.random_range(24..=60_i64) * 5);
        exam.known_at = (exam.start - ahead).max(day + minutes(60));
        if candidates.is_empty() {
            break;
        }
    }

    // The cancelled and the resized exam are known from the start.
    let mut early: Vec<usize> = (0..exams.len())
        .filter(|&i| !exams[i].is_late(day))
        .collect();
    let cancelled = early.swap_remove(rng.random_range(0..early.len()));
    let exam = &exams[cancelled];
    let cancellation = Cancellation {
        exam: cancelled,
        after_started: (exam.students / 3).max(1),
    };
    let resize = if early.is_empty() {
        None
    } else {
        let pick = early[rng.random_range(0..early.len())];
        let exam = &exams[pick];
        let change = u64::from(rng.random_range(10..=30_u32));
        let delta = u32::try_from(u64::from(exam.students) * change / 100)
            .unwrap_or(u32::MAX)
            .max(1);
        let up = exam.students.saturating_add(delta).min(config.max_students);
        let down = exam.students.saturating_sub(delta).max(1);
        let (first, second) = if rng.random_bool(0.5) {
            (up, down)
        } else {
            (down, up)
        };
        let ahead = minutes(rng.random_range(24..=48_i64) * 5);
        // Growing an exam already at the maximum shrinks it instead; an
        // exam of one student at a maximum of one cannot change.
        [first, second]
            .into_iter()
            .find(|&n| n != exam.students)
            .map(|students| Resize {
                exam: pick,
                at: (exam.start - ahead).max(day + minutes(30)),
                students,
            })
    };
    Ok(Scenario {
        day,
        exams,
        cancellation,
        resize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(exams: usize, seed: u64, max_students: u32) -> Scenario {
        generate(&ScenarioConfig {
            exams,
            seed,
            max_students,
        })
        .expect("a valid configuration")
    }

    #[test]
    fn the_day_is_2030_06_03_at_midnight() {
        assert_eq!(DAY.to_string(), "2030-06-03T00:00:00Z");
    }

    #[test]
    fn a_seed_gives_the_same_day_and_another_seed_another() {
        for seed in 0..20 {
            assert_eq!(day(30, seed, 2500), day(30, seed, 2500));
            assert_ne!(day(30, seed, 2500), day(30, seed + 1, 2500));
        }
    }

    #[test]
    fn exams_lie_inside_the_day_on_quarter_hours() {
        for seed in 0..50 {
            let s = day(40, seed, 2500);
            assert_eq!(s.exams.len(), 40);
            for e in &s.exams {
                let start = e.start.duration_since(s.day).as_mins();
                let end = e.end.duration_since(s.day).as_mins();
                assert!(
                    start >= FIRST_START_MINUTE && end <= LAST_END_MINUTE,
                    "{e:?}"
                );
                assert_eq!(start % 15, 0, "{e:?}");
                assert!((60..=180).contains(&(end - start)), "{e:?}");
                assert!((1..=2500).contains(&e.students), "{e:?}");
                assert!(e.known_at >= s.day && e.known_at < e.start, "{e:?}");
            }
            let mut ids: Vec<_> = s.exams.iter().map(|e| e.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 40, "ids are unique");
            let mut names: Vec<_> = s.exams.iter().map(|e| e.name.clone()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), 40, "names are unique");
        }
    }

    #[test]
    fn exams_overlap_and_sizes_are_mixed() {
        let s = day(30, 1, 2500);
        let overlapping = s.exams.iter().enumerate().any(|(i, a)| {
            s.exams[i + 1..]
                .iter()
                .any(|b| a.start < b.end && b.start < a.end)
        });
        assert!(overlapping);
        let mut small = 0;
        let mut large = 0;
        for seed in 0..20 {
            for e in day(30, seed, 2500).exams {
                small += usize::from(e.students <= 200);
                large += usize::from(e.students > 600);
            }
        }
        assert!(small > 600 * 6 / 10, "most are small: {small} of 600");
        assert!(
            large > 0 && large < 600 / 5,
            "a few are large: {large} of 600"
        );
    }

    #[test]
    fn one_cancellation_of_a_known_exam_some_late_additions_and_one_resize() {
        for seed in 0..50 {
            for n in [3, 6, 30] {
                let s = day(n, seed, 300);
                let late: Vec<_> = s.exams.iter().filter(|e| e.is_late(s.day)).collect();
                assert!(!late.is_empty(), "seed {seed}, {n} exams: a late addition");
                assert!(late.len() < n - 1);
                for e in &late {
                    let ahead = e.start.duration_since(e.known_at);
                    assert!(
                        ahead >= minutes(60) || e.known_at == s.day + minutes(60),
                        "{e:?}"
                    );
                    assert!(ahead <= minutes(300), "{e:?}");
                }
                let c = s.cancellation;
                let cancelled = &s.exams[c.exam];
                assert!(
                    !cancelled.is_late(s.day),
                    "the cancelled exam is known early"
                );
                assert!(c.after_started >= 1 && c.after_started <= cancelled.students);
                let r = s.resize.expect("a resize");
                assert_ne!(r.exam, c.exam);
                let resized = &s.exams[r.exam];
                assert!(!resized.is_late(s.day));
                assert_ne!(r.students, resized.students);
                assert!((1..=300).contains(&r.students));
                assert!(r.at > s.day && r.at < resized.start);
                assert_eq!(s.final_students(r.exam), r.students);
            }
        }
    }

    #[test]
    fn sizes_never_exceed_the_maximum() {
        for seed in 0..20 {
            for e in day(30, seed, 25).exams {
                assert!((1..=25).contains(&e.students));
            }
        }
    }

    #[test]
    fn too_few_exams_or_no_students_are_refused() {
        let config = |exams, max_students| ScenarioConfig {
            exams,
            seed: 1,
            max_students,
        };
        assert_eq!(generate(&config(2, 10)), Err(ScenarioError::Exams(2)));
        assert_eq!(generate(&config(501, 10)), Err(ScenarioError::Exams(501)));
        assert_eq!(generate(&config(3, 0)), Err(ScenarioError::MaxStudents));
    }
}
