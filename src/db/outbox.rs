//! The `outbox` table: mails written in the transaction of the change they
//! tell about, and sent afterwards by the delivery worker of any instance
//! (`mail/worker.rs`).
//!
//! A worker claims due mails by setting `claimed_until` (a lease) in one
//! short transaction, sends them, then marks each sent or due again later.
//! On PostgreSQL the claim locks the rows it takes with `FOR UPDATE SKIP
//! LOCKED`, so instances claiming at once take different mails; on SQLite the
//! claim's transaction holds the write lock, which serialises claims. A lease
//! that runs out (an instance died mid-send) makes the mail due again.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::outbox;

/// A mail as stored (the body sealed, see `at_rest.rs`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct MailRow {
    /// The mail's id.
    pub id: String,
    /// The `To:` address.
    pub recipient: String,
    /// The subject.
    pub subject: String,
    /// The text and HTML parts, sealed.
    pub body: String,
    /// The `Message-ID` (the same on every attempt).
    pub message_id: String,
    /// When it was written.
    pub created_at: NaiveDateTime,
    /// Sending attempts so far (a claim is one).
    pub attempts: i64,
    /// When it was sent.
    pub sent_at: Option<NaiveDateTime>,
}

/// A mail to write.
#[derive(Debug, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewMail<'a> {
    /// Fresh id.
    pub id: &'a str,
    /// The `To:` address.
    pub recipient: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// The parts, sealed.
    pub body: &'a str,
    /// The `Message-ID`.
    pub message_id: &'a str,
    /// Now.
    pub created_at: NaiveDateTime,
    /// When it may be sent: now.
    pub due_at: NaiveDateTime,
}

impl NewMail<'_> {
    /// Writes the mail.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(outbox::table)
            .values(self)
            .execute(conn)
    }
}

/// Claims up to `limit` mails due at `now` that nobody holds, until
/// `lease_until`; counts the attempt. Run it in a transaction of its own.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<MailRow>> {
    use outbox::dsl;
    let due = dsl::outbox
        .filter(dsl::sent_at.is_null())
        .filter(dsl::failed_at.is_null())
        .filter(dsl::due_at.le(now))
        .filter(dsl::claimed_until.is_null().or(dsl::claimed_until.le(now)))
        .order(dsl::due_at.asc())
        .select(dsl::id)
        .limit(limit);
    let ids: Vec<String> = match conn {
        DbConnection::Pg(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(sqlite) => due.load(sqlite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(dsl::outbox.filter(dsl::id.eq_any(&ids)))
        .set((
            dsl::claimed_until.eq(lease_until),
            dsl::attempts.eq(dsl::attempts + 1),
        ))
        .execute(conn)?;
    dsl::outbox
        .filter(dsl::id.eq_any(&ids))
        .order(dsl::due_at.asc())
        .select(MailRow::as_select())
        .load(conn)
}

/// Marks mail `id` sent.
pub fn sent(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    use outbox::dsl;
    diesel::update(dsl::outbox.find(id))
        .set((
            dsl::sent_at.eq(now),
            dsl::claimed_until.eq(None::<NaiveDateTime>),
            dsl::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

/// Records a failed attempt of mail `id`: due again at `retry_at`, or, with
/// no retry left, failed for good.
pub fn failed(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use outbox::dsl;
    let row = dsl::outbox.find(id);
    match retry_at {
        Some(at) => diesel::update(row)
            .set((
                dsl::due_at.eq(at),
                dsl::claimed_until.eq(None::<NaiveDateTime>),
                dsl::last_error.eq(error),
            ))
            .execute(conn),
        None => diesel::update(row)
            .set((
                dsl::failed_at.eq(now),
                dsl::claimed_until.eq(None::<NaiveDateTime>),
                dsl::last_error.eq(error),
            ))
            .execute(conn),
    }
}

/// How many mails wait to be sent (due or not).
pub fn pending(conn: &mut DbConnection) -> QueryResult<i64> {
    use outbox::dsl;
    dsl::outbox
        .filter(dsl::sent_at.is_null())
        .filter(dsl::failed_at.is_null())
        .count()
        .get_result(conn)
}

/// The newest `limit` mails, to `recipient` only when given.
pub fn list(
    conn: &mut DbConnection,
    recipient: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<MailRow>> {
    use outbox::dsl;
    let mut query = dsl::outbox.select(MailRow::as_select()).into_boxed();
    if let Some(recipient) = recipient {
        query = query.filter(dsl::recipient.eq(recipient.to_owned()));
    }
    query
        .order((dsl::created_at.desc(), dsl::id.desc()))
        .limit(limit)
        .load(conn)
}

/// Deletes every mail (test mode's `DELETE /test/mailbox`).
pub fn clear(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::delete(outbox::table).execute(conn)
}

/// Deletes mails sent, or failed for good, before `cutoff`, at most `batch`;
/// returns how many.
pub fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    use outbox::dsl;
    let done = dsl::outbox
        .filter(dsl::sent_at.lt(cutoff).or(dsl::failed_at.lt(cutoff)))
        .select(dsl::id)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(dsl::outbox.filter(dsl::id.eq_any(&done))).execute(conn)
}
