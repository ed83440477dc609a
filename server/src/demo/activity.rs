//! Made-up Claude Code activity: people who open sessions on a workday rhythm, more on
//! weekdays, each their own way (how often, which models, which repositories). What one
//! session sends is [`super::session`]'s. Same seed, same output.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};

use super::{
    random::Random,
    session::{session, Pace, Session},
};

/// Someone who uses Claude Code, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// Their name on their machine: the home directory `/home/<login>`.
    pub login: String,
    /// Their clock's offset from UTC in minutes: a workday is 9 to 18 there.
    pub utc_offset_minutes: i32,
    /// Sessions on an ordinary workday, on average.
    pub sessions_per_day: f64,
    /// Works at weekends: at least one session every Saturday and Sunday.
    pub weekends: bool,
    /// Shares of sessions run on Opus and on Haiku; the others run on Sonnet.
    pub opus: f64,
    pub haiku: f64,
    pub projects: Vec<Project>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    pub name: &'static str,
    /// As Claude Code's edit decisions name it.
    pub language: &'static str,
    pub extension: &'static str,
    pub test_command: &'static str,
    pub branches: &'static [&'static str],
}

/// The repositories people work in; a person gets a few of them.
pub const PROJECTS: &[Project] = &[
    Project {
        name: "payments-api",
        language: "Rust",
        extension: "rs",
        test_command: "cargo test",
        branches: &[
            "main",
            "feat/refunds",
            "fix/idempotency-keys",
            "chore/bump-sqlx",
        ],
    },
    Project {
        name: "checkout-web",
        language: "TypeScript",
        extension: "tsx",
        test_command: "npm test",
        branches: &["main", "feat/apple-pay", "fix/cart-totals"],
    },
    Project {
        name: "auth-service",
        language: "Go",
        extension: "go",
        test_command: "go test ./...",
        branches: &["main", "feat/passkeys", "fix/token-refresh"],
    },
    Project {
        name: "platform-infra",
        language: "HCL",
        extension: "tf",
        test_command: "terraform plan",
        branches: &["main", "feat/eks-upgrade", "chore/tag-resources"],
    },
    Project {
        name: "design-system",
        language: "TypeScript",
        extension: "tsx",
        test_command: "npm run test:unit",
        branches: &["main", "feat/date-picker", "fix/focus-rings"],
    },
    Project {
        name: "etl-pipelines",
        language: "Python",
        extension: "py",
        test_command: "pytest -q",
        branches: &["main", "feat/incremental-loads", "fix/timezone-bug"],
    },
    Project {
        name: "ml-features",
        language: "Python",
        extension: "py",
        test_command: "pytest -q tests/",
        branches: &["main", "exp/embedding-cache", "feat/churn-model"],
    },
    Project {
        name: "warehouse-models",
        language: "SQL",
        extension: "sql",
        test_command: "dbt test",
        branches: &["main", "feat/revenue-mart", "fix/late-arriving-facts"],
    },
    Project {
        name: "android-app",
        language: "Kotlin",
        extension: "kt",
        test_command: "./gradlew test",
        branches: &["main", "feat/offline-mode", "fix/crash-on-rotate"],
    },
];

/// Which sessions to make up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    pub seed: u64,
    /// Sessions that start in `[from, until)`, with their items before `until`.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Multiplies everybody's sessions per day.
    pub scale: f64,
}

/// Every session of `people` in the plan's window, day by day, oldest first. A person's day is
/// generated from the seed, their login and the date alone, so a day comes out the same
/// whatever window it is part of.
pub fn history(people: Vec<Person>, plan: Plan) -> impl Iterator<Item = Session> + Send {
    // Local dates from the one that starts before `from` anywhere to the one after `until`.
    let first = (plan.from - TimeDelta::days(1)).date_naive();
    let last = (plan.until + TimeDelta::days(1)).date_naive();
    first
        .iter_days()
        .take_while(move |d| *d <= last)
        .flat_map(move |date| {
            people
                .iter()
                .enumerate()
                .flat_map(|(i, p)| day(i, p, date, &plan))
                .collect::<Vec<_>>()
        })
}

fn login_hash(login: &str) -> u64 {
    // FNV-1a: stable across builds, unlike std's hasher.
    login.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One person's sessions on one local date.
fn day(index: usize, person: &Person, date: NaiveDate, plan: &Plan) -> Vec<Session> {
    let mut rng = Random::derive(
        plan.seed,
        &[login_hash(&person.login), date.num_days_from_ce() as u64],
    );
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let n = if weekend {
        let n = if person.weekends {
            1 + rng.count(0.6 * plan.scale)
        } else if rng.chance(0.08) {
            1
        } else {
            0
        };
        n as usize
    } else if !person.weekends && rng.chance(0.04) {
        // A day off.
        0
    } else {
        let mood = rng.around(1.0, 0.35);
        rng.count(person.sessions_per_day * plan.scale * mood) as usize
    };
    // Mornings and afternoons, less around lunch.
    const HOURS: [f64; 9] = [1.0, 1.4, 1.4, 0.6, 0.8, 1.3, 1.3, 1.2, 0.8];
    let mut starts: Vec<i64> = (0..n)
        .map(|_| {
            let hour = if weekend {
                rng.between(10, 19)
            } else {
                9 + rng.weighted(&HOURS) as i64
            };
            hour * 3600 + rng.between(0, 3599)
        })
        .collect();
    starts.sort_unstable();
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
        - TimeDelta::minutes(person.utc_offset_minutes as i64);
    starts
        .into_iter()
        .filter_map(|secs| {
            let start = midnight + TimeDelta::seconds(secs);
            // Drawn whether kept or not, so a session does not depend on the window.
            let s = session(
                &mut rng,
                index,
                person,
                start,
                plan.until,
                Pace::REAL,
                weekend,
            );
            (start >= plan.from && start < plan.until).then_some(s)
        })
        .collect()
}

/// `n` people with made-up names (for the load generator), their projects and habits varied.
pub fn crowd(n: usize, seed: u64) -> Vec<(String, Person)> {
    const FIRST: &[&str] = &[
        "Ana", "Bruno", "Chloé", "Daniel", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas",
        "Keiko", "Liam", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tara",
    ];
    const LAST: &[&str] = &[
        "Lima", "Costa", "Martin", "Okafor", "Schulz", "Haddad", "Kim", "Pereira", "Novak", "Berg",
        "Tanaka", "Murphy", "Singh", "Ivanov", "Rossi", "Alves", "Nguyen", "Garcia",
    ];
    const OFFSETS: &[i32] = &[-300, -180, 0, 60, 60, 120, 330, 540];
    let mut rng = Random::new(seed);
    (0..n)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = *rng.pick(LAST);
            let login = format!(
                "{}{}",
                first.to_lowercase().replace('é', "e"),
                i / FIRST.len() + 1
            );
            let projects = (0..rng.between(1, 3))
                .map(|_| rng.pick(PROJECTS).clone())
                .collect();
            let person = Person {
                login,
                utc_offset_minutes: *rng.pick(OFFSETS),
                sessions_per_day: rng.around(3.0, 0.5),
                weekends: rng.chance(0.15),
                opus: if rng.chance(0.2) { 0.6 } else { 0.1 },
                haiku: 0.1,
                projects,
            };
            (format!("{first} {last}"), person)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::session::{Item, HAIKU, OPUS, SONNET};
    use serde_json::Value;

    fn people() -> Vec<Person> {
        crowd(6, 1).into_iter().map(|(_, p)| p).collect()
    }

    fn plan(seed: u64) -> Plan {
        let until = "2026-11-20T15:30:00Z".parse().unwrap();
        Plan {
            seed,
            from: until - TimeDelta::days(14),
            until,
            scale: 1.0,
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_sessions_and_another_seed_others() {
        let a: Vec<Session> = history(people(), plan(42)).collect();
        let b: Vec<Session> = history(people(), plan(42)).collect();
        let c: Vec<Session> = history(people(), plan(43)).collect();
        assert!(a.len() > 50, "{} sessions", a.len());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_day_is_the_same_whatever_window_it_is_part_of() {
        let long = plan(42);
        let short = Plan {
            from: long.until - TimeDelta::days(3),
            ..long
        };
        let tail: Vec<Session> = history(people(), long)
            .filter(|s| s.items[0].at >= short.from)
            .collect();
        assert_eq!(tail, history(people(), short).collect::<Vec<_>>());
    }

    #[test]
    fn sessions_start_once_in_the_window_and_send_nothing_after_it() {
        let p = plan(7);
        for s in history(people(), p) {
            assert!(s.items[0].at >= p.from);
            assert!(s
                .items
                .iter()
                .all(|i| i.at < p.until && i.at >= s.items[0].at));
            let starts = s
                .items
                .iter()
                .filter(|i| matches!(&i.item, Item::Batch(v) if v["type"] == "session_start"));
            assert_eq!(starts.count(), 1);
        }
    }

    #[test]
    fn activity_looks_like_a_team_at_work() {
        let all: Vec<Session> = history(people(), plan(42)).collect();
        let items: Vec<&Value> = all
            .iter()
            .flat_map(|s| &s.items)
            .filter_map(|i| match &i.item {
                Item::Batch(v) => Some(v),
                _ => None,
            })
            .collect();
        let tools: Vec<&&Value> = items.iter().filter(|v| v["type"] == "tool_use").collect();
        let failed = tools.iter().filter(|v| v["success"] == false).count() as f64;
        let share = failed / tools.len() as f64;
        assert!((0.05..0.10).contains(&share), "failure share {share}");
        for model in [SONNET, OPUS, HAIKU] {
            assert!(items.iter().any(|v| v["model"] == model), "{model}");
        }
        for tool in [
            "Read",
            "Edit",
            "Bash",
            "Grep",
            "Glob",
            "Write",
            "TodoWrite",
            "Task",
            "WebFetch",
            "MultiEdit",
        ] {
            assert!(tools.iter().any(|v| v["tool_name"] == tool), "{tool}");
        }
        let weekday =
            |s: &&Session| !matches!(s.items[0].at.weekday(), Weekday::Sat | Weekday::Sun);
        let on_weekdays = all.iter().filter(weekday).count();
        assert!(
            on_weekdays * 10 > all.len() * 8,
            "{on_weekdays} of {}",
            all.len()
        );
        let counters: Vec<&str> = all
            .iter()
            .flat_map(|s| &s.items)
            .filter_map(|i| match &i.item {
                Item::Metric { name, .. } => Some(*name),
                _ => None,
            })
            .collect();
        for name in ["claude_code.commit.count", "claude_code.pull_request.count"] {
            assert!(counters.contains(&name), "{name}");
        }
    }
}
