//! Group commit: many concurrent requests, one database transaction.
//!
//! Each alert request hands its item to a single committer task and waits on a oneshot channel. The committer
//! takes whatever has queued up (at least one item, at most `max_batch`), writes the whole batch with one call
//! (one transaction, one fsync), then answers every waiter. While a batch commits the next one queues, so the
//! batch size grows with load by itself and no timer delays a lone alert. A request is answered only after the
//! commit that contains it returned, which is what makes a 202 durable.
//!
//! A waiter waits a bounded time ([`GroupCommit::submit_within`]): a node cut off from its database mid-commit
//! (a network partition leaves the connection hanging, not failing) answers "unavailable, retry" instead of
//! holding every client until TCP gives up, so the client retries on another node. The outcome of that commit is
//! then unknown to the client, which is why retries carry the same alert id: the store answers a repeated id with
//! the alert it already holds, never a second one.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

/// Why an item got no result from the committer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupCommitError {
    /// The committer task has stopped (server shutting down).
    #[error("the intake committer has stopped")]
    Stopped,
    /// The queue is full: the server is overloaded.
    #[error("the intake queue is full")]
    Overloaded,
    /// The batch holding the item did not commit within the wait (the database is unreachable or stalled); it may
    /// still commit later.
    #[error("the commit did not finish within {0:?}")]
    TimedOut(std::time::Duration),
}

type Waiter<T, R> = (T, oneshot::Sender<R>);

/// The handle request handlers use to submit items; cheap to clone.
#[derive(Debug)]
pub struct GroupCommit<T, R> {
    tx: mpsc::Sender<Waiter<T, R>>,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Starts the committer task. `commit` must return exactly one result per item, in order; a short answer
    /// leaves the missing waiters with [`GroupCommitError::Stopped`], which the caller maps to a 503.
    pub fn spawn<F, Fut>(max_batch: usize, queue_capacity: usize, commit: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<Waiter<T, R>>(queue_capacity.max(1));
        let max_batch = max_batch.max(1);
        tokio::spawn(async move {
            let mut items = Vec::with_capacity(max_batch);
            let mut waiters = Vec::with_capacity(max_batch);
            while let Some((item, waiter)) = rx.recv().await {
                items.push(item);
                waiters.push(waiter);
                while items.len() < max_batch {
                    match rx.try_recv() {
                        Ok((item, waiter)) => {
                            items.push(item);
                            waiters.push(waiter);
                        }
                        Err(_) => break,
                    }
                }
                metrics::histogram!("jikimi_intake_batch_size").record(items.len() as f64);
                let started = std::time::Instant::now();
                let results = commit(std::mem::take(&mut items)).await;
                metrics::histogram!("jikimi_intake_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                for (waiter, result) in waiters.drain(..).zip(results) {
                    // A waiter that gave up (client disconnected) is fine: its item is committed all the same.
                    let _ = waiter.send(result);
                }
                waiters.clear();
            }
        });
        Self { tx }
    }

    /// Submits one item and waits until the batch holding it is committed.
    pub async fn submit(&self, item: T) -> Result<R, GroupCommitError> {
        let (tx, rx) = oneshot::channel();
        self.tx.try_send((item, tx)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => GroupCommitError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => GroupCommitError::Stopped,
        })?;
        rx.await.map_err(|_| GroupCommitError::Stopped)
    }

    /// As [`GroupCommit::submit`], waiting at most `wait` for the commit.
    pub async fn submit_within(
        &self,
        item: T,
        wait: std::time::Duration,
    ) -> Result<R, GroupCommitError> {
        match tokio::time::timeout(wait, self.submit(item)).await {
            Ok(result) => result,
            Err(_) => Err(GroupCommitError::TimedOut(wait)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_items_share_commits_and_each_gets_its_own_answer() {
        let commits = Arc::new(AtomicUsize::new(0));
        let counter = commits.clone();
        let group = GroupCommit::spawn(64, 10_000, move |items: Vec<u32>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                items.into_iter().map(|i| i * 2).collect::<Vec<_>>()
            }
        });
        let mut tasks = Vec::new();
        for i in 0..500u32 {
            let group = group.clone();
            tasks.push(tokio::spawn(async move { (i, group.submit(i).await) }));
        }
        for task in tasks {
            let (i, result) = task.await.unwrap_or((0, Err(GroupCommitError::Stopped)));
            assert_eq!(result, Ok(i * 2));
        }
        assert!(commits.load(Ordering::SeqCst) <= 500);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_commit_is_given_up_after_the_wait() {
        let group = GroupCommit::spawn(8, 8, |items: Vec<u32>| async move {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            items
        });
        let wait = std::time::Duration::from_secs(10);
        assert_eq!(
            group.submit_within(1, wait).await,
            Err(GroupCommitError::TimedOut(wait))
        );
    }

    #[tokio::test]
    async fn a_short_answer_leaves_the_rest_stopped() {
        let group = GroupCommit::spawn(8, 8, |_items: Vec<u32>| async move { Vec::<u32>::new() });
        assert_eq!(group.submit(1).await, Err(GroupCommitError::Stopped));
    }
}
