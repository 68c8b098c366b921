//! SQLite's writer: one thread per database that runs this process's writes
//! one after another.
//!
//! SQLite takes one writer at a time, and a writer that finds the lock taken
//! sleeps in SQLite's busy handler (1, 2, 5, 10, … ms) however soon the lock
//! is free, which caps throughput and stretches the tail. Queueing writers
//! on a mutex avoids the sleeps but hands the lock from thread to thread,
//! one context switch per write. Here, writes queue in a channel and one
//! thread drains it: under load it goes from one write to the next without
//! sleeping, and each request costs one wake-up (its answer). SQLite's lock
//! is met only when another process holds it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use super::DbError;

type Job = Box<dyn FnOnce() + Send>;

/// The queue of one database's writes. Cheap to clone; the thread ends when
/// the last clone is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread.
    pub fn start() -> Result<Self, DbError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("wristband-sqlite-writer".into())
            .spawn(move || {
                for job in queue {
                    // A panicking write answers nothing (its caller sees a
                    // failed job); the thread goes on with the next one.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(|e| DbError::Blocking(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer thread after the writes queued before it.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DbError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone (a timeout, a disconnect): the write
            // is done all the same, and its answer dropped.
            let _ = answer.send(f());
        });
        self.jobs
            .send(job)
            .map_err(|_| DbError::Blocking("the SQLite writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| DbError::Blocking("the write panicked".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn writes_run_in_order_and_a_panic_stops_nothing() {
        let writer = Writer::start().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let runs: Vec<_> = (0..20)
            .map(|i| {
                let log = log.clone();
                writer.run(move || log.lock().unwrap().push(i))
            })
            .collect();
        for run in runs {
            run.await.unwrap();
        }
        assert_eq!(*log.lock().unwrap(), (0..20).collect::<Vec<_>>());
        let panicked = writer.run(|| panic!("a failing write")).await;
        assert!(matches!(panicked, Err(DbError::Blocking(_))));
        assert_eq!(writer.run(|| 7).await.unwrap(), 7);
    }
}
