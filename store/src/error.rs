use std::borrow::Cow;

/// Every failure the data layer reports. `server` maps these to HTTP in one place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: Cow<'static, str>,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Conflict(Cow<'static, str>),
    /// The caller sees the thing but may not change it (someone else's alert rule).
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// A save named the version it started from, and another save came first.
    #[error("the {what} changed since version {since} (it is now version {now}); reload it or save a copy")]
    Stale {
        what: &'static str,
        since: i32,
        now: i32,
    },
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bounded queue is full (password checks): come back in a moment.
    #[error("too busy with {0}; retry shortly")]
    Busy(&'static str),
    #[error("embedded PostgreSQL: {0}")]
    Embedded(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        match e {
            // No connection came free in time: the database is overloaded or gone, which the
            // caller should retry, not an internal fault.
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                Error::Unavailable(e.to_string())
            }
            e => Error::Database(e),
        }
    }
}

impl Error {
    /// The SQLSTATE of the underlying database error, when there is one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            Error::Database(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// PostgreSQL refused the data itself (a value out of range, text it cannot hold, a
    /// check, a key too long to index): writing the same rows again would fail the same way,
    /// so the request is at fault, not the database.
    pub fn is_bad_data(&self) -> bool {
        self.sqlstate().is_some_and(|s| {
            s.starts_with("22") || s == "23502" || s == "23514" || s.starts_with("54")
        })
    }
}

impl From<types::Invalid> for Error {
    fn from(e: types::Invalid) -> Error {
        Error::Invalid {
            field: e.field,
            reason: e.reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
