//! Publish on commit: what each committed transaction changed, told to observers after the commit.
//!
//! - A writing method collects its [`Committed`] changes in its transaction's audit chain (`sql::Chain`) as it
//!   makes them; `commit_write` hands the [`ChangeSet`] to every [`CommitObserver`] only after the database
//!   accepted the commit. A transaction that fails or is rolled back (an early `return Err`, a refused
//!   transition, a stale seq, a failed commit) reports nothing; a transaction that changed no incident, unit or
//!   notification (a duplicate alert, a login, an audit-only write) reports nothing either.
//! - Observers are given when the store is opened ([`crate::SqliteStore::with_observer`],
//!   [`crate::PgStore::with_observer`], [`crate::connect_observed`]) or attached to an open store
//!   ([`crate::Store::observe_commits`]); every clone of a store shares them. The server's live feed is one; a
//!   cluster bus would be another.
//! - A change set carries ids and kinds, never state: an observer that needs the state reads it (it is committed,
//!   so every read from then on sees it).

use crate::NotificationId;
use jikimi_respond::{IncidentId, UnitId};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

/// One thing a committed transaction changed. Serialised (ids and kinds only) in the change outbox
/// ([`crate::cluster`]) and on the cluster event bus.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Committed {
    /// An alert opened this incident.
    IncidentOpened(IncidentId),
    /// An event was appended to this open incident (a report joined, a transition, a note, a device's update).
    IncidentUpdated(IncidentId),
    /// This incident was closed.
    IncidentClosed(IncidentId),
    /// This unit was saved, moved or changed status.
    UnitUpdated(UnitId),
    /// A guardian notification about `incident_id` was queued in the outbox.
    NotificationQueued {
        /// The notification.
        id: NotificationId,
        /// Its incident.
        incident_id: IncidentId,
    },
    /// A hash bank was created or changed (identify).
    IdentifyBank(uuid::Uuid),
    /// A bank's content was added, disabled, enabled, quarantined or released (identify).
    IdentifyContent(uuid::Uuid),
    /// Many contents were imported into this bank at once (identify).
    IdentifyBankContent(uuid::Uuid),
    /// A road closure was set or lifted: the closures in force changed.
    RoadClosure(uuid::Uuid),
    /// An attempt to deliver a notification was recorded (delivered, to retry, or dead-lettered).
    NotificationUpdated {
        /// The notification.
        id: NotificationId,
        /// Its incident.
        incident_id: IncidentId,
    },
    /// A disaster was declared or closed, asked people, or recorded an answer.
    DisasterUpdated(uuid::Uuid),
}

/// What one committed transaction changed, in the order it changed it; each thing at most once per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    changes: Vec<Committed>,
    /// The same changes, to drop repeats in constant time (a batch of alerts changes thousands of things).
    seen: HashSet<Committed>,
}

impl ChangeSet {
    /// An empty set.
    pub fn new() -> ChangeSet {
        ChangeSet::default()
    }

    /// Adds a change (a repeat of one already in the set is dropped).
    pub fn push(&mut self, change: Committed) {
        if self.seen.insert(change.clone()) {
            self.changes.push(change);
        }
    }

    /// Records an incident event: opened, closed or updated by its resulting status.
    pub(crate) fn incident(&mut self, incident: &jikimi_respond::Incident, opened: bool) {
        self.push(if opened {
            Committed::IncidentOpened(incident.id)
        } else if incident.status == jikimi_respond::IncidentStatus::Closed {
            Committed::IncidentClosed(incident.id)
        } else {
            Committed::IncidentUpdated(incident.id)
        });
    }

    /// A set of `changes` (as read back from the change outbox or the event bus), repeats dropped.
    pub fn from_changes(changes: impl IntoIterator<Item = Committed>) -> ChangeSet {
        let mut set = ChangeSet::new();
        for change in changes {
            set.push(change);
        }
        set
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes, in order.
    pub fn changes(&self) -> &[Committed] {
        &self.changes
    }

    /// The incidents changed (opened, updated or closed), in order.
    pub fn incidents(&self) -> impl Iterator<Item = IncidentId> + '_ {
        self.changes.iter().filter_map(|c| match c {
            Committed::IncidentOpened(id)
            | Committed::IncidentUpdated(id)
            | Committed::IncidentClosed(id) => Some(*id),
            _ => None,
        })
    }

    /// The units changed, in order.
    pub fn units(&self) -> impl Iterator<Item = &UnitId> + '_ {
        self.changes.iter().filter_map(|c| match c {
            Committed::UnitUpdated(id) => Some(id),
            _ => None,
        })
    }

    /// The notifications queued or updated, in order.
    pub fn notifications(&self) -> impl Iterator<Item = NotificationId> + '_ {
        self.changes.iter().filter_map(|c| match c {
            Committed::NotificationQueued { id, .. }
            | Committed::NotificationUpdated { id, .. } => Some(*id),
            _ => None,
        })
    }
}

/// Told what each transaction changed, after it committed.
///
/// Called on the committing task, right after the commit: it must not block or wait (hand the set to a channel
/// or a task). It is never called for a transaction that did not commit.
pub trait CommitObserver: Send + Sync {
    /// `changes` were committed (never empty).
    fn committed(&self, changes: &ChangeSet);
}

/// The observers of one store, shared by its clones.
#[derive(Clone, Default)]
pub(crate) struct Observers {
    list: Arc<RwLock<Vec<Arc<dyn CommitObserver>>>>,
}

impl Observers {
    /// Adds an observer.
    pub(crate) fn add(&self, observer: Arc<dyn CommitObserver>) {
        // A poisoned lock only means an observer panicked while being added; the list itself is intact.
        let mut list = match self.list.write() {
            Ok(list) => list,
            Err(poisoned) => poisoned.into_inner(),
        };
        list.push(observer);
    }

    /// Tells every observer; called only after a successful commit.
    pub(crate) fn committed(&self, changes: &ChangeSet) {
        if changes.is_empty() {
            return;
        }
        let list = match self.list.read() {
            Ok(list) => list,
            Err(poisoned) => poisoned.into_inner(),
        };
        for observer in list.iter() {
            observer.committed(changes);
        }
    }
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.list.read().map(|l| l.len()).unwrap_or_default();
        f.debug_struct("Observers").field("n", &n).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_set_keeps_order_and_drops_repeats() {
        let a = IncidentId(uuid::Uuid::now_v7());
        let mut set = ChangeSet::new();
        set.push(Committed::IncidentOpened(a));
        set.push(Committed::UnitUpdated(UnitId::new("P-1")));
        set.push(Committed::IncidentOpened(a));
        assert_eq!(set.changes().len(), 2);
        assert_eq!(set.incidents().collect::<Vec<_>>(), vec![a]);
        assert_eq!(
            set.units().map(UnitId::as_str).collect::<Vec<_>>(),
            vec!["P-1"]
        );
        assert_eq!(set.notifications().count(), 0);
    }
}
