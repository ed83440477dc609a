//! Remembered dashboard answers. A dashboard is read far more often than its numbers change:
//! fifty people opening the same board read the same rollups fifty times. Every answer is
//! kept until something that could change it happens, then forgotten:
//!
//! - events committed for a person forget the answers whose readers see that person (the
//!   writer says so at once on its own instance, and every instance hears it from the bus);
//! - an audited change to a workspace (teams, roles, prices, its time zone…) forgets all of
//!   that workspace's answers (see `audit::changes_answers`);
//! - losing the bus or the database's notices forgets everything, since a notice may have
//!   been missed;
//! - nothing is kept longer than [`LIFETIME`], which bounds what no notice covers (a display
//!   name edited in place).
//!
//! Identical reads that arrive together share one query: the first computes, the others wait
//! for its answer. A read that began before a change was noticed still gets the answer it
//! asked for (its snapshot predates the change), but that answer is not kept. Nor is one
//! read on a replica that may not hold the last noticed change yet (see [`crate::replica`]):
//! it could otherwise outlive the change it missed.

use std::{
    any::Any,
    collections::HashMap,
    fmt,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::PgConnection;
use tokio::sync::OnceCell;
use types::dashboard::{
    Audience, Breakdown, Choices, Dimension, Filters, Heatmap, Insights, Measure, Overview, Series,
    SessionPage, SessionSort, Split, Window,
};
use types::{TenantId, UserId};

use super::Reader;
use crate::Result;

/// The longest an answer is kept, noticed changes or not.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// How many answers are kept in all; past it the oldest go first.
pub const CAPACITY: usize = 4096;

type Shared = Arc<dyn Any + Send + Sync>;

struct Entry {
    answer: Arc<OnceCell<Shared>>,
    tenant: TenantId,
    /// The people whose events can change the answer; `None`: anyone's in the tenant.
    depends_on: Option<Vec<UserId>>,
    made: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Workspace schema → id, learnt from reads, for notices that name the schema.
    schemas: HashMap<String, TenantId>,
    /// When a change was last noticed in each workspace, and in all of them at once.
    changed_at: HashMap<TenantId, Instant>,
    all_changed_at: Option<Instant>,
    /// Each workspace's windows by filters, and when each was worked out (see
    /// [`Answers::window`]).
    windows: HashMap<TenantId, HashMap<Filters, (Window, Instant)>>,
    /// When a change to the workspace itself (not its events) was last noticed: events
    /// cannot move a window, so only these keep one from being kept.
    workspace_changed_at: HashMap<TenantId, Instant>,
}

/// The store's memory of dashboard answers; cheap to clone, one per process.
#[derive(Clone, Default)]
pub struct Answers(Arc<Mutex<Inner>>);

impl fmt::Debug for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.lock().map(|i| i.entries.len()).unwrap_or_default();
        write!(f, "Answers({n} kept)")
    }
}

/// What one dashboard read asks: by whom, over which window, with which filters, of what
/// shape (`what`, e.g. `series/model/cost`). Two reads with equal questions get one answer.
pub struct Question<'a> {
    pub tenant: TenantId,
    pub schema: &'a str,
    pub reader: &'a Reader,
    pub window: &'a Window,
    pub filters: &'a Filters,
    pub what: String,
    /// The answer compares the reader with others (team medians), so anyone's events
    /// change it, not only those of the people the reader sees.
    pub tenant_wide: bool,
    /// Read on a replica holding every commit made before this instant; `None`: the primary.
    pub as_of: Option<Instant>,
}

impl Question<'_> {
    fn key(&self) -> String {
        let w = self.window;
        format!(
            "{}|{}|{}|{:?}|{:?}|{}|{}|{:?}|{}|{:?}",
            self.tenant.0,
            self.what,
            self.reader.me.0,
            self.reader.audience,
            self.reader.people,
            w.from.timestamp_micros(),
            w.to.timestamp_micros(),
            w.grain,
            w.tz,
            self.filters
        )
    }

    fn depends_on(&self) -> Option<Vec<UserId>> {
        match self.reader.audience {
            _ if self.tenant_wide => None,
            Audience::Everyone | Audience::Aggregate => None,
            Audience::Teams | Audience::Own => self.reader.people.clone(),
        }
    }
}

/// One caller's reads over one window, asked through the kept answers.
#[derive(Clone, Copy)]
pub struct Asker<'a> {
    pub answers: &'a Answers,
    pub scope: &'a crate::TenantScope,
    pub reader: &'a Reader,
    pub window: &'a Window,
    /// The read transaction's [`crate::TenantTx::as_of`].
    pub as_of: Option<Instant>,
}

impl<'a> Asker<'a> {
    /// The kept answer to `what` under `filters`, or `compute`'s. `tenant_wide`: the answer
    /// compares the reader with people they do not see (see [`Question::tenant_wide`]).
    /// Computing first has the transaction plan its statements for their values
    /// ([`super::plan_for_these_values`]).
    async fn kept<'c, T, F, Fut>(
        &self,
        conn: &'c mut PgConnection,
        filters: &Filters,
        what: impl Into<String>,
        tenant_wide: bool,
        compute: F,
    ) -> Result<T>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce(&'c mut PgConnection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.kept_as_planned(conn, filters, what, tenant_wide, |conn| async move {
            super::plan_for_these_values(&mut *conn).await?;
            compute(conn).await
        })
        .await
    }

    /// [`Asker::kept`] for a read made while computing another answer, whose miss has
    /// planned the transaction already.
    /// Every read of the dashboard passes here: its span names the answer.
    #[tracing::instrument(name = "store.dashboard", skip_all, fields(answer = tracing::field::Empty))]
    async fn kept_as_planned<'c, T, F, Fut>(
        &self,
        conn: &'c mut PgConnection,
        filters: &Filters,
        what: impl Into<String>,
        tenant_wide: bool,
        compute: F,
    ) -> Result<T>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce(&'c mut PgConnection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let q = Question {
            tenant: self.scope.id(),
            schema: self.scope.schema(),
            reader: self.reader,
            window: self.window,
            filters,
            what: what.into(),
            tenant_wide,
            as_of: self.as_of,
        };
        tracing::Span::current().record("answer", q.what.as_str());
        self.answers.get_or(q, || compute(conn)).await
    }
}

// The reads worth keeping. A session's timeline is one small read, and live activity is
// about "now", so those two are always read afresh.
impl Asker<'_> {
    pub async fn overview(&self, conn: &mut PgConnection, f: &Filters) -> Result<Overview> {
        self.kept(conn, f, "overview", false, |conn| {
            super::overview(conn, self.reader, self.window, f)
        })
        .await
    }

    pub async fn series(
        &self,
        conn: &mut PgConnection,
        f: &Filters,
        split: Split,
        measure: Measure,
    ) -> Result<Series> {
        self.kept(
            conn,
            f,
            format!("series/{split:?}/{measure:?}"),
            false,
            |conn| super::series(conn, self.reader, self.window, f, split, measure),
        )
        .await
    }

    pub async fn breakdown(
        &self,
        conn: &mut PgConnection,
        f: &Filters,
        by: Dimension,
    ) -> Result<Breakdown> {
        super::breakdown::may_read(self.reader, by)?;
        self.kept(
            conn,
            f,
            format!("breakdown/{by:?}"),
            false,
            |conn| async move {
                // Scores ignore the model and tool filters, so they are kept without them: one
                // scan serves every breakdown of the page whatever those filters are. (A breakdown
                // kept from them may then hold scores up to twice LIFETIME old; every notice that
                // forgets the one forgets the other.)
                let scores = match by {
                    Dimension::Tool => None,
                    _ => {
                        let unfiltered = Filters {
                            model: None,
                            tool: None,
                            ..f.clone()
                        };
                        Some(
                            self.kept_as_planned(
                                &mut *conn,
                                &unfiltered,
                                "scores",
                                false,
                                |conn| {
                                    super::breakdown::scores(
                                        conn,
                                        self.reader,
                                        self.window,
                                        &unfiltered,
                                    )
                                },
                            )
                            .await?,
                        )
                    }
                };
                super::breakdown(conn, self.reader, self.window, f, by, scores.as_ref()).await
            },
        )
        .await
    }

    pub async fn heatmap(&self, conn: &mut PgConnection, f: &Filters) -> Result<Heatmap> {
        self.kept(conn, f, "heatmap", false, |conn| {
            super::heatmap(conn, self.reader, self.window, f)
        })
        .await
    }

    pub async fn sessions(
        &self,
        conn: &mut PgConnection,
        f: &Filters,
        sort: SessionSort,
        page: i64,
    ) -> Result<SessionPage> {
        self.kept(
            conn,
            f,
            format!("sessions/{sort:?}/{page}"),
            false,
            |conn| super::sessions_page(conn, self.reader, self.window, f, sort, page),
        )
        .await
    }

    /// The filter bar's options: the same for every filter but the window.
    pub async fn choices(&self, conn: &mut PgConnection) -> Result<Choices> {
        self.kept(conn, &Filters::default(), "choices", false, |conn| {
            super::choices(conn, self.reader, self.window)
        })
        .await
    }

    /// Insights compare the reader with their team's median, so anyone's events change them.
    pub async fn insights(&self, conn: &mut PgConnection, f: &Filters) -> Result<Insights> {
        self.kept(conn, f, "insights", true, |conn| {
            super::insights(conn, self.reader, self.window, f)
        })
        .await
    }
}

impl Answers {
    /// What `f` means as a window now in `tx`'s workspace ([`super::window`]), kept: every
    /// widget of every page asks, and it reads the workspace's time zone and has PostgreSQL
    /// find the local day. A preset's window stays what it is until its end (`to` is the
    /// next boundary of the unit it is counted in); an absolute one does not move. A change
    /// to the workspace (its time zone) forgets its windows, as it forgets its answers.
    pub async fn window(
        &self,
        tx: &mut crate::TenantTx,
        f: &Filters,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Window> {
        let tenant = tx.scope().id();
        let absolute = f.from.is_some() && f.to.is_some();
        let asked = Instant::now();
        {
            let inner = self.0.lock().expect("answers lock");
            if let Some((w, made)) = inner.windows.get(&tenant).and_then(|ws| ws.get(f)) {
                if made.elapsed() < LIFETIME && (absolute || now < w.to) {
                    return Ok(w.clone());
                }
            }
        }
        let w = super::window(tx, f, now).await?;
        let mut inner = self.0.lock().expect("answers lock");
        // Kept only if no change was noticed since the read began, nor since the replica's
        // data is from (the zone it read may be the old one).
        let since = tx.as_of().map_or(asked, |t| t.min(asked));
        let last = inner
            .workspace_changed_at
            .get(&tenant)
            .copied()
            .max(inner.all_changed_at);
        if last.is_none_or(|c| c < since) {
            let count: usize = inner.windows.values().map(HashMap::len).sum();
            if count >= CAPACITY {
                for ws in inner.windows.values_mut() {
                    ws.retain(|_, (_, made)| made.elapsed() < LIFETIME);
                }
                inner.windows.retain(|_, ws| !ws.is_empty());
                if inner.windows.values().map(HashMap::len).sum::<usize>() >= CAPACITY {
                    inner.windows.clear();
                }
            }
            inner
                .windows
                .entry(tenant)
                .or_default()
                .insert(f.clone(), (w.clone(), asked));
        }
        Ok(w)
    }

    /// The answer to `q`: a kept one, the one another read is computing, or `compute`'s.
    pub async fn get_or<T, F, Fut>(&self, q: Question<'_>, compute: F) -> Result<T>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let key = q.key();
        // Decided under the same lock as the keeping, so no change slips in between.
        let cell = 'kept: {
            let mut inner = self.0.lock().expect("answers lock");
            inner.schemas.insert(q.schema.to_string(), q.tenant);
            let now = Instant::now();
            let cell = match inner.entries.get(&key) {
                // A kept answer holds every change noticed so far, wherever it was read.
                Some(e) if now.duration_since(e.made) < LIFETIME => e.answer.clone(),
                _ => {
                    if let Some(as_of) = q.as_of {
                        let last = inner
                            .changed_at
                            .get(&q.tenant)
                            .copied()
                            .max(inner.all_changed_at);
                        if last.is_some_and(|c| c >= as_of) {
                            break 'kept None;
                        }
                    }
                    if inner.entries.len() >= CAPACITY {
                        inner.make_room(now);
                    }
                    let cell = Arc::new(OnceCell::new());
                    inner.entries.insert(
                        key.clone(),
                        Entry {
                            answer: cell.clone(),
                            tenant: q.tenant,
                            depends_on: q.depends_on(),
                            made: now,
                        },
                    );
                    cell
                }
            };
            Some(cell)
        };
        let Some(cell) = cell else {
            return compute().await;
        };
        let answer = cell
            .get_or_try_init(|| async {
                let answer: Shared = Arc::new(compute().await?);
                Ok::<_, crate::Error>(answer)
            })
            .await;
        match answer {
            Ok(a) => Ok(a
                .downcast_ref::<T>()
                .expect("one question, one answer type")
                .clone()),
            Err(e) => {
                // Nobody should wait on a failed read: the next asker tries afresh.
                let mut inner = self.0.lock().expect("answers lock");
                if inner
                    .entries
                    .get(&key)
                    .is_some_and(|en| Arc::ptr_eq(&en.answer, &cell))
                {
                    inner.entries.remove(&key);
                }
                Err(e)
            }
        }
    }

    /// Events of `people` (`None`: of anyone) were committed in `tenant`.
    pub fn changed(&self, tenant: TenantId, people: Option<&[UserId]>) {
        let mut inner = self.0.lock().expect("answers lock");
        inner.changed_at.insert(tenant, Instant::now());
        if people.is_none() {
            inner.windows.remove(&tenant);
            inner.workspace_changed_at.insert(tenant, Instant::now());
        }
        inner.entries.retain(|_, e| {
            e.tenant != tenant
                || match (&e.depends_on, people) {
                    (None, _) | (_, None) => false,
                    (Some(deps), Some(people)) => !people.iter().any(|p| deps.contains(p)),
                }
        });
    }

    /// Something other than events changed in the workspace with this schema (`public` or
    /// an unknown schema: possibly any workspace).
    pub fn forget_schema(&self, schema: &str) {
        let tenant = self
            .0
            .lock()
            .expect("answers lock")
            .schemas
            .get(schema)
            .copied();
        match tenant {
            Some(t) => self.changed(t, None),
            None => self.forget_all(),
        }
    }

    /// A notice may have been missed: nothing kept can be trusted.
    pub fn forget_all(&self) {
        let mut inner = self.0.lock().expect("answers lock");
        inner.all_changed_at = Some(Instant::now());
        inner.entries.clear();
        inner.windows.clear();
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("answers lock").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Drops what has outlived [`LIFETIME`], then the oldest quarter if that was not enough.
    fn make_room(&mut self, now: Instant) {
        self.entries
            .retain(|_, e| now.duration_since(e.made) < LIFETIME);
        if self.entries.len() >= CAPACITY {
            let mut made: Vec<Instant> = self.entries.values().map(|e| e.made).collect();
            made.sort_unstable();
            let cut = made[CAPACITY / 4];
            self.entries.retain(|_, e| e.made > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::{TimeZone, Utc};
    use types::Grain;

    use super::*;

    fn uid(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn window() -> Window {
        let from = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        Window {
            from,
            to,
            previous_from: from - (to - from),
            tz: "UTC".into(),
            grain: Grain::Day,
            label: "November".into(),
        }
    }

    fn reader(me: u128, audience: Audience, people: Option<Vec<u128>>) -> Reader {
        Reader {
            me: uid(me),
            audience,
            people: people.map(|p| p.into_iter().map(uid).collect()),
        }
    }

    const T: TenantId = TenantId(uuid::Uuid::from_u128(100));

    async fn ask(answers: &Answers, r: &Reader, what: &str, runs: &AtomicUsize) -> usize {
        ask_as_of(answers, r, what, runs, None).await
    }

    async fn ask_as_of(
        answers: &Answers,
        r: &Reader,
        what: &str,
        runs: &AtomicUsize,
        as_of: Option<Instant>,
    ) -> usize {
        let (w, f) = (window(), Filters::default());
        let q = Question {
            tenant: T,
            schema: "t_acme",
            reader: r,
            window: &w,
            filters: &f,
            what: what.into(),
            tenant_wide: what == "insights",
            as_of,
        };
        answers
            .get_or(q, || async { Ok(runs.fetch_add(1, Ordering::SeqCst) + 1) })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_answer_is_kept_until_events_of_someone_it_covers_arrive() {
        let answers = Answers::default();
        let runs = AtomicUsize::new(0);
        let dev = reader(1, Audience::Own, Some(vec![1]));
        let admin = reader(9, Audience::Everyone, None);
        assert_eq!(ask(&answers, &dev, "overview", &runs).await, 1);
        assert_eq!(ask(&answers, &dev, "overview", &runs).await, 1);
        assert_eq!(ask(&answers, &admin, "overview", &runs).await, 2);
        assert_eq!(ask(&answers, &dev, "insights", &runs).await, 3);

        // Someone else's events: the developer's own numbers stand; the admin's and the
        // developer's comparison with their team do not.
        answers.changed(T, Some(&[uid(2)]));
        assert_eq!(ask(&answers, &dev, "overview", &runs).await, 1);
        assert_eq!(ask(&answers, &admin, "overview", &runs).await, 4);
        assert_eq!(ask(&answers, &dev, "insights", &runs).await, 5);

        // Another workspace's events change nothing here.
        answers.changed(TenantId(uuid::Uuid::from_u128(7)), None);
        assert_eq!(ask(&answers, &admin, "overview", &runs).await, 4);

        answers.changed(T, Some(&[uid(1)]));
        assert_eq!(ask(&answers, &dev, "overview", &runs).await, 6);

        answers.forget_schema("t_acme");
        assert_eq!(ask(&answers, &dev, "overview", &runs).await, 7);
        answers.forget_all();
        assert!(answers.is_empty());
    }

    #[tokio::test]
    async fn identical_reads_share_one_computation_and_failures_are_not_kept() {
        let answers = Answers::default();
        let runs = AtomicUsize::new(0);
        let admin = reader(9, Audience::Everyone, None);
        let (w, f) = (window(), Filters::default());
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(runs.fetch_add(1, Ordering::SeqCst) + 1)
        };
        let q = || Question {
            tenant: T,
            schema: "t_acme",
            reader: &admin,
            window: &w,
            filters: &f,
            what: "series".into(),
            tenant_wide: false,
            as_of: None,
        };
        let (a, b) = tokio::join!(answers.get_or(q(), slow), answers.get_or(q(), slow));
        assert_eq!((a.unwrap(), b.unwrap()), (1, 1));

        let failing = Question {
            what: "heatmap".into(),
            ..q()
        };
        let e = answers
            .get_or::<usize, _, _>(failing, || async { Err(crate::Error::NotFound("x")) })
            .await;
        assert!(e.is_err());
        assert_eq!(answers.len(), 1, "the failed read is not kept");
    }

    #[tokio::test]
    async fn a_replica_read_that_may_miss_the_last_change_is_not_kept() {
        let answers = Answers::default();
        let runs = AtomicUsize::new(0);
        let admin = reader(9, Audience::Everyone, None);
        let before = Instant::now();
        tokio::time::sleep(Duration::from_millis(2)).await;
        answers.changed(T, Some(&[uid(1)]));
        // The replica holds only what was committed before the change was noticed: its
        // answer is given, not kept; the next read computes again.
        assert_eq!(
            ask_as_of(&answers, &admin, "overview", &runs, Some(before)).await,
            1
        );
        assert_eq!(
            ask_as_of(&answers, &admin, "overview", &runs, Some(before)).await,
            2
        );
        assert!(answers.is_empty());
        // A kept answer (here the primary's) serves a replica read that is behind: it
        // already holds the change.
        let other = reader(8, Audience::Everyone, None);
        assert_eq!(ask(&answers, &other, "overview", &runs).await, 3);
        assert_eq!(
            ask_as_of(&answers, &other, "overview", &runs, Some(before)).await,
            3
        );
        // Caught up past the change: kept, and shared with the primary's readers.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let caught_up = Instant::now();
        assert_eq!(
            ask_as_of(&answers, &admin, "overview", &runs, Some(caught_up)).await,
            4
        );
        assert_eq!(ask(&answers, &admin, "overview", &runs).await, 4);
        // Forgetting everything counts as a change in every workspace.
        answers.forget_all();
        assert_eq!(
            ask_as_of(&answers, &admin, "overview", &runs, Some(caught_up)).await,
            5
        );
        assert!(answers.is_empty());
    }
}
