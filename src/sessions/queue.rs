//! Attempts at one account and client class wait their turn in order.
//!
//! The lockout's budget (`db/login_failures.rs`) lets at most
//! `WRISTBAND_LOGIN_MAX_FAILURES` attempts of a class be checked at once;
//! the others wait for their verdicts. Polling the table alone would be a
//! lottery: whoever looks first after a place frees takes it, and an unlucky
//! attempt could wait past its bound while later ones pass. So within one
//! instance, attempts of a class queue on a fair semaphore first, as many
//! places as the budget, and meet the table (which still counts every
//! instance's attempts) only at the head of the queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The queues of this instance, one per account and class with attempts in
/// flight; a queue goes when its last attempt ends.
#[derive(Debug, Default)]
pub struct Queues {
    queues: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A place at the head of a queue; dropping it hands the place on.
pub struct Turn {
    key: String,
    permit: Option<OwnedSemaphorePermit>,
    queues: Arc<Queues>,
}

impl Queues {
    /// Waits (at most `wait`) for a turn in the queue `key`, which lets
    /// `places` attempts through at once; `None` when the wait ran out.
    pub async fn turn(
        self: &Arc<Self>,
        key: String,
        places: usize,
        wait: Duration,
    ) -> Option<Turn> {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            queues
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(places.max(1))))
                .clone()
        };
        // Built before the wait, so a timed-out wait also cleans up.
        let mut turn = Turn {
            key,
            permit: None,
            queues: self.clone(),
        };
        let permit = tokio::time::timeout(wait, queue.acquire_owned()).await;
        turn.permit = Some(permit.ok()?.ok()?);
        Some(turn)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut queues = self.queues.queues.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it now: nobody waits or holds a place.
        if queues
            .get(&self.key)
            .is_some_and(|queue| Arc::strong_count(queue) == 1)
        {
            queues.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Queues {
        fn len(&self) -> usize {
            self.queues.lock().unwrap().len()
        }
    }

    #[actix_web::test]
    async fn turns_come_in_order_and_queues_go_when_empty() {
        let queues = Arc::new(Queues::default());
        let wait = Duration::from_secs(5);
        let first = queues.turn("a".into(), 1, wait).await.expect("a turn");
        let order = Arc::new(Mutex::new(Vec::new()));
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let (queues, order) = (queues.clone(), order.clone());
                actix_web::rt::spawn(async move {
                    let turn = queues.turn("a".into(), 1, wait).await.expect("a turn");
                    order.lock().unwrap().push(i);
                    drop(turn);
                })
            })
            .collect();
        // Let every waiter queue up (in spawn order), then free the place.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        drop(first);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(queues.len(), 0, "an empty queue is forgotten");
        // A wait that runs out gives no turn, and leaves nothing behind.
        let held = queues.turn("b".into(), 1, wait).await.expect("a turn");
        assert!(
            queues
                .turn("b".into(), 1, Duration::from_millis(20))
                .await
                .is_none()
        );
        drop(held);
        assert_eq!(queues.len(), 0);
    }
}
